"""RQ jobs. Arguments are ids only (a report id, a chunk number); the database holds the rest.

A report fans out into chunk jobs that render each student into a ``report_items`` row;
whichever chunk finishes last queues one assembly job that writes the combined document
and the summary. Bad data fails a student, never the batch; lost database or Redis
connections are re-raised so RQ retries the job with backoff.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable

from flask import Flask, current_app, has_app_context
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import AbandonedJobError
from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from . import formats, mail
from .documents import ChunkResult, ReportContext, StudentInput
from .domain.options import options_from_dict
from .domain.sequencing import sequence_response
from .domain.submission import SubmissionError, parse_text
from .extensions import db
from .logs import task_context
from .models import DONE, Delivery, DeliveryStatus, Report, ReportItem, ReportPart, Status, utcnow
from .queue import enqueue_assembly, enqueue_delivery

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, DisconnectionError, RedisConnectionError, RedisTimeoutError)
ACTIVE = (Status.PENDING.value, Status.STARTED.value)


@functools.cache
def _standalone_app() -> Flask:
    from . import create_app

    return create_app()


def _app() -> Flask:
    """The worker's app: the one ``flask worker`` pushed, or one built from the environment."""
    if has_app_context():
        return current_app._get_current_object()
    return _standalone_app()


class TransientFailure(Exception):
    """Raised to RQ for a retry. Its text is fixed: rq-dashboard shows exceptions unescaped,
    and database or SMTP errors can quote user data."""

    def __init__(self, cause: BaseException):
        self.cause_name = type(cause).__name__
        super().__init__(f"temporary {self.cause_name}; the job will be retried")


class JobFailed(Exception):
    """Raised to RQ in place of an unexpected error, with fixed text for the same reason; the
    original, with its traceback, goes to the worker's log."""

    def __init__(self, cause: BaseException):
        self.cause_name = type(cause).__name__
        super().__init__(f"unexpected {self.cause_name}; the details are in the worker's log")


def fixed_text_errors(job: Callable[..., str]) -> Callable[..., str]:
    """Let only fixed-text exceptions reach RQ (and so rq-dashboard) from a job."""

    @functools.wraps(job)
    def run(*args):
        try:
            return job(*args)
        except (TransientFailure, JobFailed):
            raise
        except Exception as exc:
            log.exception("%s%r failed", job.__name__, args)
            raise JobFailed(exc) from None

    return run


def _cause_name(exc_type, exc_value) -> str:
    return getattr(exc_value, "cause_name", exc_type.__name__)


def describe(exc: BaseException) -> str:
    """An error in plain words, with every field path for invalid data."""
    if isinstance(exc, SubmissionError):
        return f"{exc.message}: " + "; ".join(f"{path} {reason}" for path, reason in exc.details.items())
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT_ERRORS)


def _start(report_id: str) -> Report | None:
    """Mark the report ``STARTED`` (first chunk wins) and return it, or None if it is done."""
    db.session.execute(
        update(Report)
        .where(Report.id == report_id, Report.status == Status.PENDING.value)
        .values(status=Status.STARTED.value, started_at=utcnow())
    )
    db.session.commit()
    report = db.session.get(Report, report_id)
    return report if report is not None and report.status not in DONE else None


def finish_item(item_id: int, report_id: str, **values) -> bool:
    """Store one student's outcome and count it in the report's progress, in one transaction.

    Only an unfinished student is finished (and counted), so a job that lost a race with
    another job or with the sweeper changes nothing."""
    finished = db.session.execute(
        update(ReportItem).where(ReportItem.id == item_id, ReportItem.status.in_(ACTIVE))
        .values(finished_at=utcnow(), **values).execution_options(synchronize_session=False)
    ).rowcount
    if finished:
        db.session.execute(
            update(Report).where(Report.id == report_id).values(progress_current=Report.progress_current + 1)
        )
    db.session.commit()
    return bool(finished)


def report_context(report: Report) -> ReportContext:
    """What every part of the report's documents shares, as stored when it was submitted."""
    return ReportContext(labels=report.labels, cohorts=report.cohorts or {}, student_total=report.student_count,
                         options=options_from_dict(report.options), events_left_out=report.events_left_out or 0,
                         title=report.label, generated_at=report.created_at)


def _claim(item_ids: list[int]) -> set[int]:
    """Mark unfinished students ``STARTED`` (one more attempt each); the ones this job won."""
    claimed = set()
    for item_id in item_ids:
        if db.session.execute(
            update(ReportItem).where(ReportItem.id == item_id, ReportItem.status.in_(ACTIVE)).values(
                status=Status.STARTED.value, started_at=utcnow(), attempts=ReportItem.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount:
            claimed.add(item_id)
    db.session.commit()
    return claimed


@fixed_text_errors
def render_chunk(report_id: str, chunk: int) -> str:
    """Render the unfinished students of one chunk; re-running skips the finished ones (a
    format that renders a chunk as one document renders its finished students again, so
    the chunk's document holds them all, without counting them twice)."""
    with _app().app_context(), task_context(report_id):
        report = _start(report_id)
        if report is None:
            return "skipped"
        report_format = formats.get(report.format)
        wanted = (Status.PENDING.value, Status.STARTED.value, Status.SUCCESS.value) if report_format.paged else ACTIVE
        items = db.session.scalars(
            select(ReportItem)
            .where(ReportItem.report_id == report_id, ReportItem.chunk == chunk, ReportItem.status.in_(wanted))
            .order_by(ReportItem.position)
            .options(db.undefer(ReportItem.input_json), db.undefer(ReportItem.metrics))
        ).all()
        work = [(item.id, item.position, item.status, item.input_json, item.metrics) for item in items]
        context = report_context(report)
        claimed = _claim([item_id for item_id, _, status, _, _ in work if status in ACTIVE])
        started = time.monotonic()
        inputs, ids = [], []
        for item_id, position, status, input_json, metrics in work:
            if status in ACTIVE and item_id not in claimed:
                continue
            try:
                [student] = parse_text(input_json)
            except Exception as exc:
                _fail_item(report_id, item_id, exc)
                continue
            inputs.append(StudentInput(position + 1, student, metrics))
            ids.append(item_id)
        if inputs:
            _render_inputs(report_id, report_format, context, chunk, inputs, ids, claimed,
                           whole_report=report.chunk_count == 1 and len(inputs) == report.student_count)
        log.info("chunk %d rendered", chunk, extra={"chunk": chunk, "students": len(inputs),
                                                     "seconds": round(time.monotonic() - started, 3)})
        queue_assembly_if_complete(report_id)
        return "done"


def _fail_item(report_id: str, item_id: int, exc: BaseException) -> None:
    db.session.rollback()
    if is_transient(exc):
        raise TransientFailure(exc) from None
    log.exception("report %s: student item %s failed", report_id, item_id)
    finish_item(item_id, report_id, status=Status.FAILURE.value, error=describe(exc))


def _render_inputs(report_id: str, report_format, context: ReportContext, chunk: int, inputs: list[StudentInput],
                   ids: list[int], claimed: set[int], *, whole_report: bool) -> None:
    """Render the students, store the chunk's document (if any), then finish each student."""
    try:
        result = report_format.documents.render_chunk(context, inputs, whole_report=whole_report)
    except Exception as exc:
        db.session.rollback()
        if is_transient(exc):
            raise TransientFailure(exc) from None
        raise
    if result.whole is not None:
        db.session.execute(delete(ReportPart).where(ReportPart.report_id == report_id, ReportPart.chunk == chunk))
        db.session.add(ReportPart(report_id=report_id, chunk=chunk, content=result.whole, size=len(result.whole),
                                  complete=result.complete))
        db.session.commit()
    for item_id, outcome in zip(ids, result.students):
        if outcome.error is not None:
            if item_id in claimed:
                finish_item(item_id, report_id, status=Status.FAILURE.value, error=outcome.error)
            continue
        values = {"first_page": outcome.pages[0], "page_count": outcome.pages[1]} if outcome.pages else {}
        if item_id not in claimed:
            db.session.execute(update(ReportItem).where(ReportItem.id == item_id).values(**values))
            db.session.commit()
            continue
        content = outcome.content
        if content is not None:
            values.update(content=content, size=len(content), sha256=hashlib.sha256(content).hexdigest())
        finish_item(item_id, report_id, status=Status.SUCCESS.value, error=None, **values)


def queue_assembly_if_complete(report_id: str) -> bool:
    """Queue the assembly once, when no student is left to render (the conditional UPDATE
    lets exactly one of several finishing chunks win)."""
    unfinished = exists().where(ReportItem.report_id == report_id, ReportItem.status.in_(ACTIVE))
    won = db.session.execute(
        update(Report)
        .where(Report.id == report_id, Report.assembly_queued_at.is_(None), ~unfinished)
        .values(assembly_queued_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not won:
        return False
    try:
        enqueue_assembly(report_id)
    except RedisError as exc:
        db.session.execute(update(Report).where(Report.id == report_id).values(assembly_queued_at=None))
        db.session.commit()
        raise TransientFailure(exc) from None
    return True


def summarise(items: list[ReportItem]) -> dict:
    succeeded = sum(item.status == Status.SUCCESS.value for item in items)
    total = len(items)
    return {
        "total": total,
        "succeeded": succeeded,
        "failed": total - succeeded,
        "success_rate": round(succeeded / total, 4) if total else 0.0,
        "students": [
            {"position": item.position, "student_id": item.student_id, "namespace": item.namespace,
             "status": item.status, "error": item.error, "size": item.size}
            for item in items
        ],
    }


@fixed_text_errors
def assemble_report(report_id: str) -> str:
    """Write the summary and the combined document of every student that succeeded."""
    with _app().app_context(), task_context(report_id):
        report = db.session.get(Report, report_id)
        if report is None or report.status in DONE:
            return "skipped"
        db.session.execute(update(Report).where(Report.id == report_id).values(attempts=Report.attempts + 1))
        db.session.commit()
        started = time.monotonic()
        items = db.session.scalars(
            select(ReportItem).where(ReportItem.report_id == report_id).order_by(ReportItem.position)
            .options(db.undefer(ReportItem.input_json), db.undefer(ReportItem.metrics), db.undefer(ReportItem.content))
        ).all()
        summary = summarise(items)
        succeeded = [item for item in items if item.status == Status.SUCCESS.value]
        if not succeeded:
            first_error = next((item.error for item in items if item.error), "no students")
            mark_failed(report_id, f"All {len(items)} students failed; the first error: {first_error}",
                         summary=summary)
            return "failed"
        report_format = formats.get(report.format)
        try:
            content, students = _combine(report, report_format, succeeded)
        except Exception as exc:
            db.session.rollback()
            if is_transient(exc):
                raise TransientFailure(exc) from None
            log.exception("report %s: assembly failed", report_id)
            mark_failed(report_id, f"The combined document could not be built: {describe(exc)}",
                         summary=summary)
            return "failed"
        db.session.execute(
            update(Report).where(Report.id == report_id).values(
                status=Status.SUCCESS.value, content=content, content_type=report_format.content_type,
                size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                sequences=sequence_response(students, report.labels), summary=summary,
                finished_at=utcnow(), error=None,
            )
        )
        db.session.commit()
        log.info("report %s assembled: %d bytes in %.2f s", report_id, len(content), time.monotonic() - started,
                 extra={"size": len(content), "students": len(items), "succeeded": len(succeeded)})
        for delivery_id in db.session.scalars(select(Delivery.id).where(Delivery.report_id == report_id)):
            enqueue_delivery(delivery_id, report_id)
        return "done"


def _combine(report: Report, report_format, succeeded: list[ReportItem]) -> tuple[bytes, list]:
    """The report's one document from its students that succeeded (and its chunks' documents)."""
    inputs = [StudentInput(item.position + 1, parse_text(item.input_json)[0], item.metrics) for item in succeeded]
    parts = db.session.scalars(
        select(ReportPart).where(ReportPart.report_id == report.id).order_by(ReportPart.chunk)
        .options(db.undefer(ReportPart.content))
    ).all()
    chunks = [ChunkResult([], whole=part.content, complete=part.complete) for part in parts]
    content = report_format.documents.combine(report_context(report), inputs, chunks,
                                              [item.content for item in succeeded])
    return content, [student_input.student for student_input in inputs]


def mark_failed(report_id: str, message: str, **values) -> bool:
    """Fail a report that is not done yet, and skip its queued emails; a finished report is
    never overwritten."""
    failed = db.session.execute(
        update(Report).where(Report.id == report_id, Report.status.in_(ACTIVE)).values(
            status=Status.FAILURE.value, error=message, finished_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if failed:
        _skip_deliveries(report_id, "The report failed, so there was nothing to send.")
    return bool(failed)


def chunk_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of a chunk: once its retries are used up, fail its unfinished
    students (the rest of the batch goes on) and let the assembly run."""
    if job.should_retry:
        return
    report_id, chunk = job.args
    if isinstance(exc_value, AbandonedJobError):
        message = ("The worker rendering this student stopped unexpectedly and the retries are used up; "
                   "it may have run out of memory.")
    elif isinstance(exc_value, JobFailed):
        message = (f"An unexpected error ({exc_value.cause_name}) stopped the rendering of this student; "
                   "the operator can find it in the worker's log.")
    else:
        message = (f"Gave up after repeated temporary errors ({_cause_name(exc_type, exc_value)}); "
                   "the database or queue was unavailable.")
    with _app().app_context(), task_context(report_id):
        items = db.session.scalars(
            select(ReportItem.id).where(ReportItem.report_id == report_id, ReportItem.chunk == chunk,
                                        ReportItem.status.in_(ACTIVE))
        ).all()
        for item_id in items:
            finish_item(item_id, report_id, status=Status.FAILURE.value, error=message)
        queue_assembly_if_complete(report_id)


def assembly_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of the assembly: record the outage once retries are used up."""
    if job.should_retry:
        return
    with _app().app_context(), task_context(job.args[0]):
        mark_failed(job.args[0], f"Gave up assembling the report after repeated errors ({_cause_name(exc_type, exc_value)}); "
                                  "please try again.")


def _skip_deliveries(report_id: str, reason: str) -> None:
    db.session.execute(
        update(Delivery).where(Delivery.report_id == report_id, Delivery.status == DeliveryStatus.QUEUED.value)
        .values(status=DeliveryStatus.SKIPPED.value, error=reason)
    )
    db.session.commit()


def _record_delivery(delivery_id: int, **values) -> None:
    db.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))
    db.session.commit()


@fixed_text_errors
def send_delivery(delivery_id: int) -> str:
    """Email a finished report to one recipient; SMTP trouble never touches the report."""
    with _app().app_context():
        delivery = db.session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.QUEUED.value:
            return "skipped"
        with task_context(delivery.report_id):
            return _send(delivery)


def _send(delivery: Delivery) -> str:
    """Record one attempt and send; a failed attempt is retried by RQ."""
    delivery_id = delivery.id
    report = db.session.get(Report, delivery.report_id)
    config = current_app.config
    attempt = delivery.attempts + 1
    _record_delivery(delivery_id, attempts=attempt)
    if not config["SMTP_HOST"]:
        _record_delivery(delivery_id, status=DeliveryStatus.FAILED.value,
                         error="Email is not configured on this server (SMTP_HOST is unset).")
        return "failed"
    message = mail.build_message(report, delivery.recipient, config["MAIL_FROM"])
    try:
        mail.send(message, config)
    except mail.PermanentDeliveryError as exc:
        _record_delivery(delivery_id, status=DeliveryStatus.FAILED.value,
                         error=f"The mail server refused the message: {exc}")
        return "failed"
    except Exception as exc:
        db.session.rollback()
        _record_delivery(delivery_id, error=f"Attempt {attempt} failed: {mail.describe_smtp_error(exc)}")
        log.warning("delivery %s attempt %d failed: %r", delivery_id, attempt, exc)
        raise TransientFailure(exc) from None
    _record_delivery(delivery_id, status=DeliveryStatus.SENT.value, sent_at=utcnow(), error=None,
                     message_id=message["Message-ID"])
    return "sent"


def delivery_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of a delivery: once retries are used up, the failure is final."""
    if job.should_retry:
        return
    with _app().app_context(), task_context(job.meta.get("task_id")):
        delivery = db.session.get(Delivery, job.args[0])
        if delivery is not None and delivery.status == DeliveryStatus.QUEUED.value:
            _record_delivery(delivery.id, status=DeliveryStatus.FAILED.value,
                             error=f"Gave up after {delivery.attempts} attempts. Last error: {delivery.error}")
