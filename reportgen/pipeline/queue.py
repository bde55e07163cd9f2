"""Redis and RQ plumbing: one connection per app, three queues, job ids derived from report ids.

Chunks wait on the report queue (``REPORTGEN_QUEUE``), first come first served. An assembly,
which finishes a report already started, waits on the finishing queue
(``<REPORTGEN_QUEUE>-finish``), which every report worker takes before the report queue, so a
report that has started is not kept waiting behind every chunk submitted after it.

Emails and webhooks wait on the delivery queue (``<REPORTGEN_QUEUE>-deliver``), which only
delivery workers take (``flask worker --deliveries``; ``make run`` and compose start one): a
delivery waits on somebody else's server, and a receiver that answers slowly on purpose must
not hold the workers that render everybody's reports. Each delivery job has a time of its own, a
small multiple of what one attempt may take (``delivery_timeout``), not a render's half hour.

Job descriptions are fixed text: rq-dashboard shows them unescaped, so no user data.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app
from redis import Redis
from rq import Callback, Queue, Retry
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation
from rq.executions import ExecutionRegistry
from rq.job import Job, JobStatus
from rq.results import Result
from rq.utils import as_text, parse_composite_key

from ..logs import current_request_id
from .job_names import ReportJob

#: The jobs' stable names (:mod:`.job_names`), which RQ stores with each job.
RENDER_CHUNK = "reportgen:render_chunk"
RENDER_PIECE = "reportgen:render_piece"
CHUNK_FAILED = "reportgen:chunk_failed"
ASSEMBLE_REPORT = "reportgen:assemble_report"
ASSEMBLY_FAILED = "reportgen:assembly_failed"
SEND_DELIVERY = "reportgen:send_delivery"
DELIVERY_FAILED = "reportgen:delivery_failed"
RUN_SUBSCRIPTION = "reportgen:run_subscription"
SEND_SUBSCRIPTION_EMAILS = "reportgen:send_subscription_emails"
SUBSCRIPTION_EMAILS_FAILED = "reportgen:subscription_emails_failed"


def init_app(app: Flask) -> None:
    app.extensions["reportgen.redis"] = None


def redis_connection() -> Redis:
    """The app's Redis client, created on first use from ``REDIS_URL``."""
    connection = current_app.extensions.get("reportgen.redis")
    if connection is None:
        url = current_app.config["REDIS_URL"]
        if not url:
            raise RuntimeError("REDIS_URL is not set; `make run` starts an embedded Redis for you")
        connection = Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        current_app.extensions["reportgen.redis"] = connection
    return connection


def report_queue() -> Queue:
    return Queue(current_app.config["REPORTGEN_QUEUE"], connection=redis_connection(), job_class=ReportJob)


def finish_queue() -> Queue:
    return Queue(current_app.config["REPORTGEN_QUEUE"] + "-finish", connection=redis_connection(), job_class=ReportJob)


def delivery_queue() -> Queue:
    return Queue(current_app.config["REPORTGEN_QUEUE"] + "-deliver", connection=redis_connection())


def worker_queues(deliveries: bool = False) -> list[Queue]:
    """What a worker listens to, in order: a report worker finishing work before new chunks; a
    delivery worker (``deliveries``) the emails and webhooks."""
    return [delivery_queue()] if deliveries else [finish_queue(), report_queue()]


def all_queues() -> list[Queue]:
    return [*worker_queues(), delivery_queue()]


def chunk_job_id(report_id: str, chunk: int) -> str:
    return f"{report_id}-c{chunk}"


def piece_job_id(report_id: str, chunk: int, piece: int) -> str:
    """A further piece of a chunk (piece 0 is the chunk's own job)."""
    return f"{report_id}-c{chunk}p{piece}" if piece else chunk_job_id(report_id, chunk)


def report_job_ids(report_id: str, chunk_count: int, pieces: list[tuple[int, int]] = ()) -> list[str]:
    """Every job a report can have queued or running: its chunks, the further pieces of its
    students cut into pieces (``(chunk, piece count)``) and its assembly."""
    return [*(chunk_job_id(report_id, chunk) for chunk in range(chunk_count)),
            *(piece_job_id(report_id, chunk, piece) for chunk, count in pieces for piece in range(1, count)),
            report_id]


def stop_jobs(job_ids: list[str]) -> None:
    """Take waiting jobs off their queues (into RQ's canceled registry, so operators see them)
    and tell the worker running one to kill its work horse. A job that finished or starts in
    between changes nothing: the caller has already made the database refuse its writes."""
    connection = redis_connection()
    for job in Job.fetch_many(job_ids, connection=connection):
        if job is None:
            continue
        status = job.get_status(refresh=False)
        try:
            if status == JobStatus.STARTED:
                send_stop_job_command(connection, job.id)
            elif status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
                job.cancel()
        except InvalidJobOperation:
            continue  # it ended (or was canceled) between the fetch and now


def delivery_job_id(delivery_id: int) -> str:
    return f"delivery-{delivery_id}"


def _job_options(on_failure: str, task_id: str, retry_setting: str = "REPORTGEN_RETRY_INTERVALS",
                 timeout: int | None = None) -> dict:
    config = current_app.config
    intervals = config[retry_setting]
    return {
        # The request id rides in the meta, not the arguments: jobs take ids only (reportgen.logs).
        "meta": {"task_id": task_id, "request_id": current_request_id.get()},
        "timeout": timeout or config["REPORTGEN_JOB_TIMEOUT"],
        "result_ttl": config["REPORTGEN_RESULT_TTL"],
        "failure_ttl": config["REPORTGEN_RESULT_TTL"],
        "retry": Retry(max=len(intervals), interval=intervals) if intervals else None,
        "on_failure": Callback(on_failure),
    }


def enqueue_report(report_id: str, chunk_count: int, pieces: list[tuple[int, int]] = ()) -> None:
    """Queue one job per chunk of a committed report, and one per further piece of a student
    cut into pieces right after its chunk's, in one round trip."""
    after: dict[int, list[int]] = {}
    for chunk, piece in pieces:
        after.setdefault(chunk, []).append(piece)
    enqueue_pieces(report_id, [(chunk, piece) for chunk in range(chunk_count) for piece in (0, *after.get(chunk, ()))])


def enqueue_chunks(report_id: str, chunks) -> None:
    """Queue the jobs of some chunks of a report (the sweeper re-queues lost ones)."""
    enqueue_pieces(report_id, [(chunk, 0) for chunk in chunks])


def enqueue_pieces(report_id: str, pieces: list[tuple[int, int]]) -> None:
    """Queue the jobs of some ``(chunk, piece)`` of a report; piece 0 is the chunk's job."""
    queue = report_queue()
    options = _job_options(CHUNK_FAILED, report_id)
    queue.enqueue_many([
        Queue.prepare_data(RENDER_PIECE, args=(report_id, chunk, piece), job_id=piece_job_id(report_id, chunk, piece),
                           description="render a part of a student's event log", **options)
        if piece else
        Queue.prepare_data(RENDER_CHUNK, args=(report_id, chunk), job_id=chunk_job_id(report_id, chunk),
                           description="render students", **options)
        for chunk, piece in pieces
    ])


def enqueue_assembly(report_id: str) -> None:
    """Queue the job that writes the combined document; its id is the report id."""
    finish_queue().enqueue_call(ASSEMBLE_REPORT, args=(report_id,), job_id=report_id,
                                description="assemble report", **_job_options(ASSEMBLY_FAILED, report_id))


#: Each kind of delivery's backoff setting and its job's (fixed) description.
DELIVERY_RETRIES = {"email": "REPORTGEN_MAIL_RETRY_INTERVALS", "webhook": "REPORTGEN_WEBHOOK_RETRY_INTERVALS"}
_DELIVERY_DESCRIPTIONS = {"email": "send report email", "webhook": "send report webhook"}
#: What bounds one attempt of each kind: a webhook's whole attempt, each of an SMTP exchange's steps.
_ATTEMPT_TIMEOUTS = {"email": "SMTP_TIMEOUT", "webhook": "REPORTGEN_WEBHOOK_TIMEOUT"}
#: A delivery job may take this many times its attempt's bound (the rest: reading the report,
#: building the message), and never less than ``MIN_DELIVERY_TIMEOUT`` seconds.
DELIVERY_TIMEOUT_FACTOR = 3
MIN_DELIVERY_TIMEOUT = 30


def delivery_timeout(kind: str) -> int:
    """Seconds RQ lets a delivery job of ``kind`` run before it stops it (and retries it)."""
    attempt = current_app.config[_ATTEMPT_TIMEOUTS[kind]]
    return max(MIN_DELIVERY_TIMEOUT, int(DELIVERY_TIMEOUT_FACTOR * attempt))


def enqueue_delivery(delivery_id: int, report_id: str, kind: str = "email") -> None:
    """Queue one email or webhook on the delivery queue, retried with its kind's backoff
    (``DELIVERY_RETRIES``) and stopped after ``delivery_timeout``."""
    delivery_queue().enqueue_call(SEND_DELIVERY, args=(delivery_id,), job_id=delivery_job_id(delivery_id),
                                  description=_DELIVERY_DESCRIPTIONS[kind],
                                  **_job_options(DELIVERY_FAILED, report_id, DELIVERY_RETRIES[kind],
                                                 delivery_timeout(kind)))


def discard_job(job_id: str) -> None:
    """Remove every trace of a dead job so one with the same id can be queued afresh.

    ``Job.delete`` is not enough for a job whose worker was killed: it fails once the
    execution's hash has expired, and it leaves the ``{job id}:{execution}`` entry in the
    started registry, where RQ's own cleanup would later find, and fail, the new job.
    """
    connection = redis_connection()
    with connection.pipeline() as pipeline:
        for queue in all_queues():
            started = queue.started_job_registry
            executions = [member for member in connection.zrange(started.key, 0, -1)
                          if parse_composite_key(as_text(member))[0] == job_id]
            if executions:
                pipeline.zrem(started.key, *executions)
            for registry in (queue.failed_job_registry, queue.finished_job_registry, queue.canceled_job_registry,
                             queue.scheduled_job_registry, queue.deferred_job_registry, queue.ready_job_registry):
                pipeline.zrem(registry.key, job_id)
            pipeline.lrem(queue.key, 0, job_id)
            pipeline.lrem(queue.intermediate_queue_key, 0, job_id)
        pipeline.delete(Job.key_for(job_id), Job.dependents_key_for(job_id),
                        ExecutionRegistry(job_id, connection).key, Result.get_key(job_id))
        pipeline.execute()


def enqueue_subscription_run(run_id: int) -> None:
    """Queue the job that makes a subscription run's reports (on the finishing queue: it only
    stores reports, whose chunks then wait their turn like everybody's)."""
    queue = finish_queue()
    options = _job_options(ASSEMBLY_FAILED, None)
    options.pop("on_failure")
    queue.enqueue_call(RUN_SUBSCRIPTION, args=(run_id,), job_id=f"subscription-run-{run_id}",
                       description="make a subscription's reports", **options)


def subscription_emails_job_id(run_id: int, attempt: int = 0) -> str:
    """Each job of a run's emails has an id of its own: one may queue the next while it runs."""
    return f"subscription-emails-{run_id}" + (f"-{attempt}" if attempt else "")


def enqueue_subscription_emails(run_id: int, delay_seconds: float = 0, attempt: int = 0) -> None:
    """Queue the job that sends a subscription run's waiting emails on the delivery queue,
    retried as emails are; ``delay_seconds`` later when the SMTP rate limit's minute is full."""
    queue = delivery_queue()
    options = _job_options(SUBSCRIPTION_EMAILS_FAILED, None, DELIVERY_RETRIES["email"], delivery_timeout("email"))
    job_id = subscription_emails_job_id(run_id, attempt)
    arguments = (run_id, attempt) if attempt else (run_id,)
    if delay_seconds > 0:
        options["job_timeout"] = options.pop("timeout")
        queue.enqueue_in(timedelta(seconds=delay_seconds), SEND_SUBSCRIPTION_EMAILS, args=arguments, job_id=job_id,
                         description="send subscription emails", **options)
    else:
        queue.enqueue_call(SEND_SUBSCRIPTION_EMAILS, args=arguments, job_id=job_id,
                           description="send subscription emails", **options)
