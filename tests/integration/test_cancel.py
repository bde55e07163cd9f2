"""``DELETE /assignment/<fmt>/<task_id>``: a pending or running report is canceled (its queued
jobs taken off the queue, a running work horse stopped, nothing written after), a finished
one's input and documents are deleted (410 Gone afterwards). Real workers, real Redis."""
from __future__ import annotations

import time

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from reportgen import create_app
from reportgen.extensions import db
from reportgen.models import Report, ReportItem, ReportPart
from reportgen.pipeline.queue import report_job_ids

from ..support.api import post_json, status, submit
from ..support.database import stored_upload
from ..support.fakes import WEBHOOK_SECRET, WEBHOOK_WORKER_ENV, WebhookReceiver
from ..support.pages import csrf_token
from ..support.payloads import minutely_student, sample_students
from ..support.processes import listening_workers, wait_until

#: One student whose event log is cut into many pieces: one worker takes several seconds over
#: them, one job after another, so a cancel finds one running and the rest waiting.
LONG_LOG = 40_000


def delete(client, report_format: str, task_id: str):
    return client.delete(f"/assignment/{report_format}/{task_id}")


def stored(app, task_id: str) -> dict:
    """What the database holds of a report: what a job could still write."""
    with app.app_context():
        report = db.session.get(Report, task_id)
        items = db.session.execute(select(ReportItem.status, ReportItem.finished_at, ReportItem.size)
                                   .where(ReportItem.report_id == task_id).order_by(ReportItem.position)).all()
        parts = db.session.scalar(select(func.count()).select_from(ReportPart).where(ReportPart.report_id == task_id))
        return {"status": report.status, "progress": report.progress_current, "size": report.size,
                "finished_at": report.finished_at, "items": [tuple(item) for item in items], "parts": parts}


def job_statuses(config, task_id: str, chunk_count: int, pieces) -> dict[str, str]:
    connection = Redis.from_url(config["REDIS_URL"])
    ids = report_job_ids(task_id, chunk_count, pieces)
    return {job.id: job.get_status() for job in Job.fetch_many(ids, connection=connection) if job is not None}


def busy_with(config, task_id: str) -> str | None:
    """The id of the report's job a worker is running, if any."""
    queue = Queue(config["REPORTGEN_QUEUE"], connection=Redis.from_url(config["REDIS_URL"]))
    for worker in Worker.all(queue=queue):
        job_id = worker.get_current_job_id()
        if job_id and job_id.startswith(task_id):
            return job_id
    return None


def test_canceling_a_running_pdf_stops_its_work_horse_and_nothing_is_written_after(app, client, config, tmp_path):
    with listening_workers(config, tmp_path, 1):
        task_id = submit(client, "pdf", [minutely_student("long", LONG_LOG)], options={"event_log": True})
        with app.app_context():
            pieces = db.session.scalar(select(ReportItem.pieces).where(ReportItem.report_id == task_id))
        assert pieces >= 10
        running = wait_until(lambda: busy_with(config, task_id), 60, "a worker to start on the report")

        response = delete(client, "pdf", task_id)
        assert response.status_code == 200
        body = response.get_json()
        assert body["status"] == "CANCELED" and "Canceled" in body["error"] and body["finished_at"]
        after_cancel = stored(app, task_id)
        assert after_cancel["status"] == "CANCELED" and after_cancel["parts"] == 0
        assert {item[0] for item in after_cancel["items"]} == {"CANCELED"}

        wait_until(lambda: busy_with(config, task_id) is None, 15, "the work horse to be stopped")
        jobs = job_statuses(config, task_id, 1, [(0, pieces)])
        assert jobs[running] == JobStatus.STOPPED, jobs
        waiting = [job for job, state in jobs.items() if state == JobStatus.CANCELED]
        assert len(waiting) >= pieces - 3, jobs  # the pieces still queued never run
        assert not [job for job, state in jobs.items() if state in (JobStatus.QUEUED, JobStatus.STARTED)], jobs
        time.sleep(2)  # a job that was not stopped would write within this
        assert stored(app, task_id) == after_cancel

    assert client.get(f"/assignment/pdf/{task_id}").status_code == 410
    assert client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()["status"] == \
        "CANCELED"
    student = client.get(f"/assignment/pdf/{task_id}/students/0")
    assert student.status_code == 410 and "Canceled" in student.get_json()["error"]


def test_a_pending_report_is_canceled_before_any_worker_sees_it(app, client, config, tmp_path):
    many = [{**student, "student_id": f"{student['student_id']}-{n}"} for n in range(60) for student in sample_students()]
    task_id = submit(client, "pdf", many)
    with app.app_context():
        chunk_count = db.session.get(Report, task_id).chunk_count
    assert chunk_count >= 2

    response = delete(client, "pdf", task_id)
    assert response.status_code == 200 and response.get_json()["status"] == "CANCELED"
    jobs = job_statuses(config, task_id, chunk_count, [])
    assert sorted(set(jobs.values())) == [JobStatus.CANCELED] and len(jobs) == chunk_count
    before = stored(app, task_id)

    with listening_workers(config, tmp_path, 1):
        time.sleep(2)
    assert stored(app, task_id) == before
    assert before["progress"] == 0 and before["parts"] == 0 and {item[0] for item in before["items"]} == {"CANCELED"}


@pytest.fixture
def mail_app(config, mailbox):
    _, port = mailbox
    app = create_app({**config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_canceled_reports_emails_are_skipped(mail_app, mailbox, config, tmp_path):
    client = mail_app.test_client()
    response = post_json(client, "/assignment/html", {"students": sample_students(), "email": ["t@school.example"]})
    task_id = response.get_json()["task_id"]
    assert delete(client, "html", task_id).status_code == 200
    [delivery] = status(client, "html", task_id)["deliveries"]
    assert delivery["status"] == "SKIPPED" and "canceled" in delivery["error"]
    with listening_workers(config, tmp_path, 1):
        time.sleep(2)
    box, _ = mailbox
    assert box.messages == []


def test_deleting_a_finished_report_leaves_a_tombstone_and_its_links_answer_gone(app, client, run_worker):
    task_id = submit(client, "html", sample_students())
    run_worker()
    assert status(client, "html", task_id)["status"] == "SUCCESS"
    assert client.get(f"/assignment/html/{task_id}/students/0").status_code == 200

    response = delete(client, "html", task_id)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "SUCCESS" and body["purge_reason"] == "deleted" and body["purged_at"]
    assert "owner's request" in body["gone"]
    for url in (f"/assignment/html/{task_id}", f"/assignment/html/{task_id}/students/0",
                f"/assignment/html/{task_id}?bundle=zip"):
        gone = client.get(url)
        assert gone.status_code == 410, url
        assert "deleted" in gone.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportItem)
                                 .where(ReportItem.report_id == task_id)) == 0
        assert db.session.get(Report, task_id).content is None

    again = delete(client, "html", task_id)
    assert again.status_code == 200 and again.get_json()["purged_at"] == body["purged_at"]


def test_delete_names_no_other_report(client):
    task_id = submit(client, "csv", sample_students())
    assert delete(client, "pdf", task_id).status_code == 404
    assert delete(client, "csv", "00000000-0000-4000-8000-000000000000").status_code == 404
    assert delete(client, "csv", "not-a-task-id").status_code == 404
    assert status(client, "csv", task_id)["status"] == "PENDING"


def test_a_webhook_announces_the_cancellation(config, tmp_path):
    with WebhookReceiver() as receiver:
        hook_app = create_app({**config, "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET,
                               "REPORTGEN_WEBHOOK_ALLOW": ["127.0.0.1"]})
        client = hook_app.test_client()
        response = post_json(client, "/assignment/pdf", {"students": sample_students(), "callback_url": receiver.url()})
        task_id = response.get_json()["task_id"]
        assert delete(client, "pdf", task_id).status_code == 200
        with listening_workers(config, tmp_path, 1, **WEBHOOK_WORKER_ENV):
            [request] = wait_until(lambda: receiver.requests, 60, "the webhook")
        payload = request["verified"]
        assert isinstance(payload, dict), payload
        assert (payload["task_id"], payload["status"]) == (task_id, "CANCELED")
        assert "Canceled" in payload["error"]
        [webhook] = status(client, "pdf", task_id)["deliveries"]
        assert (webhook["kind"], webhook["status"]) == ("webhook", "SENT")
        with hook_app.app_context():
            db.engine.dispose()


def discard_on_page(client, task_id: str):
    return client.post(f"/reports/{task_id}/discard", data={"csrf_token": csrf_token(client, f"/reports/{task_id}")})


def test_the_status_page_cancels_then_deletes_and_a_canceled_report_can_be_tried_again(app, client):
    task_id = submit(client, "pdf", sample_students())
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert f'action="/reports/{task_id}/discard"' in page and ">Cancel<" in page
    assert "Delete this report" not in page  # nothing to delete until it is done
    assert client.post(f"/reports/{task_id}/discard").status_code == 400  # no CSRF token

    response = discard_on_page(client, task_id)
    assert response.status_code == 303 and response.headers["Location"] == f"/reports/{task_id}"
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert "Canceled: nothing more of this report will be made." in page
    assert "Canceled: the report was stopped before it finished." in page
    assert ">Cancel<" not in page and "Delete this report's data" in page and ">Try again<" in page
    history = client.get("/reports?status=CANCELED").get_data(as_text=True)
    assert f"/reports/{task_id}" in history and '<option selected value="CANCELED">Canceled</option>' in history

    again = client.post(f"/reports/{task_id}/retry", data={"csrf_token": csrf_token(client, f"/reports/{task_id}")})
    new_id = again.headers["Location"].rsplit("/", 1)[1]
    assert new_id != task_id and status(client, "pdf", new_id)["status"] == "PENDING"
    assert stored_upload(app, new_id) == stored_upload(app, task_id)

    assert discard_on_page(client, task_id).status_code == 303
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert "Deleted: the uploaded data and the documents are gone" in page and "No longer available" in page
    assert "Delete this report" not in page and ">Try again<" not in page
    refused = client.post(f"/reports/{task_id}/retry", data={"csrf_token": csrf_token(client)})
    assert refused.status_code == 303
    assert "cannot be tried again" in client.get(f"/reports/{task_id}").get_data(as_text=True)
