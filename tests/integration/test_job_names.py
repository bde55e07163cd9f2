"""Jobs queued by the release before the ``pipeline`` package, under its dotted paths
(``reportgen.jobs.render_chunk`` …), still run on a worker of this layout: RQ stores a job's
function and failure callback by name, and :mod:`reportgen.pipeline.job_names` resolves the old
names. Enqueued here with RQ's plain job class, as that release's web process did."""
from redis import Redis
from rq import Callback, Queue
from sqlalchemy import update

from reportgen.extensions import db
from reportgen.models import Delivery
from reportgen.pipeline.job_names import FORMER_PATHS

from ..support.api import post_json, status
from ..support.fakes import WEBHOOK_WORKER_ENV
from ..support.payloads import sample_students
from ..support.processes import free_port


def former_queues(config) -> tuple[Queue, Queue]:
    connection = Redis.from_url(config["REDIS_URL"])
    return (Queue(config["REPORTGEN_QUEUE"], connection=connection),
            Queue(config["REPORTGEN_QUEUE"] + "-finish", connection=connection))


def requeue_delivery(app, delivery_id: int, url: str) -> None:
    with app.app_context():
        db.session.execute(update(Delivery).where(Delivery.id == delivery_id)
                           .values(status="QUEUED", recipient=url, error=None))
        db.session.commit()


def test_jobs_queued_under_the_former_dotted_paths_run_to_success_on_this_layout(hook_app, receiver, config,
                                                                                  run_worker):
    assert set(FORMER_PATHS) == {f"reportgen.jobs.{name}" for name in (
        "render_chunk", "render_piece", "chunk_failed", "assemble_report", "assembly_failed", "send_delivery",
        "delivery_failed")}
    client = hook_app.test_client()
    response = post_json(client, "/assignment/csv", {"students": sample_students(), "callback_url": receiver.url("/h")})
    task_id = response.get_json()["task_id"]
    reports, finishing = former_queues(config)
    reports.empty()  # the jobs this release queued under their stable names go; the former ones stand in
    former = [
        reports.enqueue_call("reportgen.jobs.render_chunk", args=(task_id, 0), job_id=f"{task_id}-c0",
                             on_failure=Callback("reportgen.jobs.chunk_failed"), description="render students"),
        reports.enqueue_call("reportgen.jobs.render_piece", args=(task_id, 0, 1), job_id=f"{task_id}-c0p1",
                             on_failure=Callback("reportgen.jobs.chunk_failed"), description="render a part"),
    ]
    run_worker(**WEBHOOK_WORKER_ENV)
    assert [job.get_status(refresh=True) for job in former] == ["finished"] * 2
    assert [job.func_name for job in former] == ["reportgen.jobs.render_chunk", "reportgen.jobs.render_piece"]
    assert status(client, "csv", task_id)["status"] == "SUCCESS"
    [delivery] = status(client, "csv", task_id)["deliveries"]
    assert delivery["status"] == "SENT" and len(receiver.requests) == 1

    with hook_app.app_context():
        delivery_id = db.session.query(Delivery.id).filter_by(report_id=task_id).scalar()
    requeue_delivery(hook_app, delivery_id, receiver.url("/again"))
    sent = finishing.enqueue_call("reportgen.jobs.send_delivery", args=(delivery_id,), meta={"task_id": task_id},
                                  on_failure=Callback("reportgen.jobs.delivery_failed"), description="send webhook")
    late_assembly = finishing.enqueue_call("reportgen.jobs.assemble_report", args=(task_id,), job_id=task_id,
                                           on_failure=Callback("reportgen.jobs.assembly_failed"),
                                           description="assemble report")  # a duplicate: finds it done
    run_worker(**WEBHOOK_WORKER_ENV)
    assert [sent.get_status(refresh=True), late_assembly.get_status(refresh=True)] == ["finished", "finished"]
    assert late_assembly.return_value() == "skipped" and status(client, "csv", task_id)["status"] == "SUCCESS"
    assert [request["path"] for request in receiver.requests] == ["/h", "/again"]

    closed = f"http://127.0.0.1:{free_port()}/nobody-listens"
    requeue_delivery(hook_app, delivery_id, closed)
    refused = finishing.enqueue_call("reportgen.jobs.send_delivery", args=(delivery_id,), meta={"task_id": task_id},
                                     on_failure=Callback("reportgen.jobs.delivery_failed"), description="send webhook")
    run_worker(**WEBHOOK_WORKER_ENV)
    assert refused.get_status(refresh=True) == "failed"
    [delivery] = status(client, "csv", task_id)["deliveries"]
    assert delivery["status"] == "FAILED"  # the former failure callback ran and recorded it
    assert delivery["error"].startswith("Gave up after")
