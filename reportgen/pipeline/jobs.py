"""RQ jobs: the entry points whose dotted names RQ stores in Redis. Arguments are ids only (a
report id, a chunk number, a delivery id); the database holds the rest, and every change of
state goes through :mod:`reportgen.pipeline.state`.

A report fans out into chunk jobs on the report queue, and a student whose PDF event log is
too long for one job into further piece jobs right behind its chunk's, so several workers
share it. The job that finishes the last chunk (or piece) finishes the report: itself for a
report of one chunk (no second job), else through an assembly job on the finishing queue,
which every worker takes before new chunks, so a report that has started finishes before
new ones start. Bad data fails a student, never the batch;
lost database or Redis connections are re-raised so RQ retries the job with backoff.

Jobs run in the app context that ``flask worker`` pushed before forking (the work horse
inherits it), each in a database session of its own.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator

from flask import current_app, has_app_context
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import AbandonedJobError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError

from ..render import formats
from ..delivery import mail, webhooks
from . import memory, state
from ..render.documents import ChunkResult, ReportContext, StudentInput, log_rows
from ..domain.options import options_from_dict
from ..domain.report_data import class_page_metrics
from ..domain.sequencing import sequence_response
from ..domain.submission import Student, SubmissionError, parse_text
from ..extensions import db
from ..logs import task_context
from ..models import Delivery, DeliveryKind, DeliveryStatus, Report, ReportItem, ReportPart, Status, utcnow
from .queue import enqueue_delivery
from ..serializers import report_outcome
from .state import ACTIVE

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, DisconnectionError, RedisConnectionError, RedisTimeoutError)
RENDERER = "reportgen.render.html_pdf"


@contextlib.contextmanager
def job_scope(task_id: str | None) -> Iterator[None]:
    """A job's database session and log tag, in the worker's app context."""
    if not has_app_context():
        raise RuntimeError("reportgen jobs run in `flask --app wsgi worker`, which pushes the app context")
    try:
        with task_context(task_id):
            yield
    finally:
        db.session.remove()


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


def report_context(report: Report) -> ReportContext:
    """What every part of the report's documents shares, as stored when it was submitted."""
    return ReportContext(labels=report.labels, cohorts=report.cohorts or {}, student_total=report.student_count,
                         options=options_from_dict(report.options), events_left_out=report.events_left_out or 0,
                         title=report.label, generated_at=report.created_at)


#: What a job reads of a student it renders.
_WORK = (ReportItem.id, ReportItem.position, ReportItem.status, ReportItem.input_json, ReportItem.metrics,
         ReportItem.event_count, ReportItem.pieces)
#: How many students' rows an assembly holds at a time.
ASSEMBLY_BATCH = 100


def _chunk_items(report_id: str, chunk: int, paged: bool):
    """A chunk's students to render: the unfinished ones, and for a paged format the finished too."""
    wanted = (*ACTIVE, Status.SUCCESS.value) if paged else ACTIVE
    return (select(*_WORK)
            .where(ReportItem.report_id == report_id, ReportItem.chunk == chunk, ReportItem.status.in_(wanted))
            .order_by(ReportItem.position))


def _unfinished_item(report_id: str, chunk: int):
    """The student of a chunk cut into pieces, while it is unfinished."""
    return select(*_WORK).where(ReportItem.report_id == report_id, ReportItem.chunk == chunk,
                                ReportItem.status.in_(ACTIVE))


def _item_states(report_id: str):
    """What the summary says of each student, without their inputs or documents."""
    return (select(ReportItem.position, ReportItem.student_id, ReportItem.namespace, ReportItem.status,
                   ReportItem.error, ReportItem.size)
            .where(ReportItem.report_id == report_id).order_by(ReportItem.position))


def _succeeded(report_id: str, *columns):
    return (select(*columns).where(ReportItem.report_id == report_id, ReportItem.status == Status.SUCCESS.value)
            .order_by(ReportItem.position).execution_options(yield_per=ASSEMBLY_BATCH))


def _part_ids(report_id: str):
    """The stored parts of the chunks that have a student who succeeded, in document order."""
    chunks = select(ReportItem.chunk).where(ReportItem.report_id == report_id,
                                            ReportItem.status == Status.SUCCESS.value)
    return (select(ReportPart.id).where(ReportPart.report_id == report_id, ReportPart.chunk.in_(chunks),
                                        ReportPart.content.is_not(None))
            .order_by(ReportPart.chunk, ReportPart.piece))


def _part_content(part_id: int):
    return select(ReportPart.content, ReportPart.complete).where(ReportPart.id == part_id)


def _webhooks(report_id: str):
    """The webhook to queue when a report ends, whatever its outcome."""
    return (select(Delivery.id)
            .where(Delivery.report_id == report_id, Delivery.status == DeliveryStatus.QUEUED.value,
                   Delivery.kind == DeliveryKind.WEBHOOK.value)
            .order_by(Delivery.id))


def warm_up() -> None:
    """Compile, in the worker before it forks, the statements a report's job runs.

    SQLAlchemy caches a statement's compiled form in the engine, which every forked work horse
    inherits, but a horse's own cache dies with it: compiling them again in each horse was a
    third of a small report's job. Each statement runs here once on an id no row has, so it
    changes nothing. A database that is down now only costs the horses that compile again.
    """
    try:
        _run_each_statement()
    except SQLAlchemyError as exc:
        log.warning("the job statements were not compiled ahead (%s); each job compiles its own", type(exc).__name__)
    finally:
        db.session.rollback()
        db.session.remove()


def _run_each_statement() -> None:
    none, missing = "warm-up:no-such-report", -1
    state.start_report(none)
    for paged in (False, True):
        db.session.execute(_chunk_items(none, 0, paged)).all()
    db.session.execute(_unfinished_item(none, 0)).first()
    state.claim_items([missing])
    state.claim_piece(none, 0, 1)
    state.store_piece(none, 0, 1, b"")
    state.finish_pieces(missing, none, 0)
    digest = {"content": b"", "size": 0, "sha256": ""}
    for outcome in ({"status": Status.SUCCESS.value, "error": None, **digest},
                    {"status": Status.SUCCESS.value, "error": None, "first_page": 0, "page_count": 0},
                    {"status": Status.FAILURE.value, "error": ""}):
        state.finish_item(missing, none, **outcome)
    state.update_item(missing, first_page=0, page_count=0)
    state.store_chunk_document(none, 0, b"", False)
    state.claim_assembly(none)
    state.begin_assembly(none)
    db.session.execute(_item_states(none)).all()
    db.session.execute(_succeeded(none, ReportItem.position, ReportItem.input_json, ReportItem.metrics)).all()
    db.session.execute(_succeeded(none, ReportItem.content)).all()
    db.session.execute(_part_ids(none)).all()
    db.session.execute(_part_content(missing)).first()
    db.session.execute(_succeeded(none, ReportItem.id)).all()
    state.finish_report(none, content=b"", content_type="", size=0, sha256="", sequences=None, summary=None)
    db.session.execute(_webhooks(none)).all()
    state.claim_upload_emails(none)


@fixed_text_errors
def render_chunk(report_id: str, chunk: int) -> str:
    """Render the unfinished students of one chunk; re-running skips the finished ones (a
    paged format renders its finished students again, so the chunk's document holds them
    all, without counting them twice). The job that finishes the last chunk finishes the
    report: at once for a report of one chunk, else by queueing its assembly."""
    warm = RENDERER in sys.modules  # imported by the worker before it forked (rendering.warm_up)
    with job_scope(report_id):
        report = state.start_report(report_id)
        if report is None:
            return "skipped"
        report_format = formats.get(report.format)
        context = report_context(report)
        one_chunk, student_count = report.chunk_count == 1, report.student_count
        work = db.session.execute(_chunk_items(report_id, chunk, report_format.paged)).all()
        claimed = state.claim_items([row.id for row in work if row.status in ACTIVE])
        started = time.monotonic()
        inputs, rows = [], []
        for row in work:
            if row.status in ACTIVE and row.id not in claimed:
                continue
            try:
                [student] = parse_text(row.input_json)
            except Exception as exc:
                _fail_item(report_id, row.id, exc)
                continue
            rows_printed = log_rows(row.event_count, 0, row.pieces)
            inputs.append(StudentInput(row.position + 1, student, row.metrics, rows_printed, row.pieces))
            rows.append(row)
        if inputs:
            whole_report = one_chunk and len(inputs) == student_count and all(row.pieces == 1 for row in rows)
            _render_inputs(report_id, report_format, context, chunk, inputs, rows, claimed, whole_report=whole_report)
        log.info("chunk %d rendered", chunk, extra={"chunk": chunk, "students": len(inputs), "warm": warm,
                                                     "seconds": round(time.monotonic() - started, 3)})
        _finish_if_complete(report_id, assemble_here=one_chunk)
        return "done"


def _fail_item(report_id: str, item_id: int, exc: BaseException) -> None:
    db.session.rollback()
    if is_transient(exc):
        raise TransientFailure(exc) from None
    log.exception("report %s: student item %s failed", report_id, item_id)
    state.finish_item(item_id, report_id, status=Status.FAILURE.value, error=describe(exc))


def _render_inputs(report_id: str, report_format, context: ReportContext, chunk: int, inputs: list[StudentInput],
                   rows: list, claimed: set[int], *, whole_report: bool) -> None:
    """Render the students, store the chunk's document (if any), then finish each student (one
    cut into pieces once its further pieces are stored too)."""
    try:
        result = report_format.documents.render_chunk(context, inputs, whole_report=whole_report)
    except Exception as exc:
        db.session.rollback()
        if is_transient(exc):
            raise TransientFailure(exc) from None
        raise
    if result.whole is not None and not state.store_chunk_document(report_id, chunk, result.whole, result.complete):
        return
    for row, outcome in zip(rows, result.students):
        item_id = row.id
        if outcome.error is not None:
            if item_id in claimed:
                state.finish_item(item_id, report_id, status=Status.FAILURE.value, error=outcome.error)
            continue
        values = {"first_page": outcome.pages[0], "page_count": outcome.pages[1]} if outcome.pages else {}
        if item_id not in claimed or row.pieces > 1:
            state.update_item(item_id, **values)
            if row.pieces > 1:
                state.finish_pieces(item_id, report_id, chunk)
            continue
        content = outcome.content
        if content is not None:
            values.update(content=content, size=len(content), sha256=hashlib.sha256(content).hexdigest())
        state.finish_item(item_id, report_id, status=Status.SUCCESS.value, error=None, **values)


@fixed_text_errors
def render_piece(report_id: str, chunk: int, piece: int) -> str:
    """Render a further piece of the event log of a chunk's student cut into pieces; the job
    that stores the student's last piece finishes it (and the report, as a chunk's would)."""
    with job_scope(report_id):
        report = state.start_report(report_id)
        if report is None:
            return "skipped"
        report_format, context, one_chunk = formats.get(report.format), report_context(report), report.chunk_count == 1
        row = db.session.execute(_unfinished_item(report_id, chunk)).first()
        if row is None or not state.claim_piece(report_id, chunk, piece):
            return "skipped"
        started = time.monotonic()
        try:
            [student] = parse_text(row.input_json)
        except Exception as exc:
            _fail_item(report_id, row.id, exc)
        else:
            item = StudentInput(row.position + 1, student, row.metrics, log_rows(row.event_count, piece, row.pieces),
                                row.pieces)
            try:
                content = report_format.documents.render_piece(context, item)
            except Exception as exc:
                db.session.rollback()
                if is_transient(exc):
                    raise TransientFailure(exc) from None
                raise
            state.store_piece(report_id, chunk, piece, content)
            state.finish_pieces(row.id, report_id, chunk)
            log.info("chunk %d piece %d rendered", chunk, piece,
                     extra={"chunk": chunk, "piece": piece, "rows": item.log_rows[1] - item.log_rows[0],
                            "seconds": round(time.monotonic() - started, 3)})
        _finish_if_complete(report_id, assemble_here=one_chunk)
        return "done"


def _finish_if_complete(report_id: str, *, assemble_here: bool) -> None:
    """If no student is left, finish the report: here (``assemble_here``) or by queueing
    its assembly on the finishing queue."""
    try:
        if assemble_here:
            if state.claim_assembly(report_id):
                _assemble(report_id)
        else:
            state.queue_assembly_if_complete(report_id)
    except RedisError as exc:
        raise TransientFailure(exc) from None


@fixed_text_errors
def assemble_report(report_id: str) -> str:
    """Write the summary and the combined document of every student that succeeded."""
    with job_scope(report_id):
        return _assemble(report_id)


def _assemble(report_id: str) -> str:
    report = state.begin_assembly(report_id)
    if report is None:
        return "skipped"
    started = time.monotonic()
    items = db.session.execute(_item_states(report_id)).all()
    summary = state.summarise(items)
    succeeded = summary["succeeded"]
    if not succeeded:
        first_error = next((item.error for item in items if item.error), "no students")
        fail_report(report_id, f"All {len(items)} students failed; the first error: {first_error}", summary=summary)
        return "failed"
    report_format = formats.get(report.format)
    try:
        content, sequences = _combine(report, report_format)
        item_pages = _student_pages(report_id, report_format, content)
        memory.release()  # the merge's garbage, before the document's bytes go to the database
    except Exception as exc:
        db.session.rollback()
        if is_transient(exc):
            raise TransientFailure(exc) from None
        log.exception("report %s: assembly failed", report_id)
        fail_report(report_id, f"The combined document could not be built: {describe(exc)}", summary=summary)
        return "failed"
    finished = state.finish_report(
        report_id, content=content, content_type=report_format.content_type, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), sequences=sequences,
        summary=summary, item_pages=item_pages,
    )
    if not finished:
        return "skipped"
    log.info("report %s assembled: %d bytes in %.2f s", report_id, len(content), time.monotonic() - started,
             extra={"size": len(content), "students": len(items), "succeeded": succeeded})
    report_ended(report_id)
    return "done"


def report_ended(report_id: str) -> None:
    """Queue every notification of a report that has just reached a final state (``SUCCESS``,
    ``FAILURE`` or ``CANCELED``), once that state is committed: its webhook whatever the outcome,
    and, if it was the last report of its upload to end, the upload's emails (one message per
    recipient with every format that succeeded; skipped if none did). Called by whoever made the
    report final, once (the caller's transition won).

    If Redis refuses, the deliveries stay ``QUEUED`` and the sweeper queues them later; the
    report is never touched by its notifications."""
    hooks = db.session.scalars(_webhooks(report_id)).all()
    db.session.commit()
    queue_deliveries([(delivery_id, report_id, DeliveryKind.WEBHOOK.value) for delivery_id in hooks])
    queue_upload_emails(report_id)


def fail_report(report_id: str, message: str, **values) -> bool:
    """Fail a report that is not done yet (:func:`reportgen.pipeline.state.mark_failed`) and, if this
    call did, queue its notifications."""
    failed = state.mark_failed(report_id, message, **values)
    if failed:
        report_ended(report_id)
    return failed


def queue_upload_emails(report_id: str) -> int:
    """Queue the emails of ``report_id``'s upload if they are due now (see
    :func:`reportgen.pipeline.state.claim_upload_emails`); how many."""
    emails = state.claim_upload_emails(report_id)
    queue_deliveries([(delivery_id, lead_id, DeliveryKind.EMAIL.value) for delivery_id, lead_id in emails])
    return len(emails)


def queue_deliveries(deliveries: list[tuple[int, str, str]]) -> None:
    """Queue ``(delivery id, report id, kind)``; if Redis refuses they stay ``QUEUED`` for the sweeper."""
    try:
        for delivery_id, report_id, kind in deliveries:
            enqueue_delivery(delivery_id, report_id, kind)
    except RedisError as exc:
        log.warning("notifications could not be queued (%s), the sweeper will", type(exc).__name__)


def _student_pages(report_id: str, report_format, content: bytes) -> list[tuple[int, int, int]]:
    """Where each student that succeeded lies in a paged document (item id, first page,
    count), so their own downloads are cut from it and the chunks' documents can go."""
    if not report_format.paged:
        return []
    item_ids = db.session.scalars(_succeeded(report_id, ReportItem.id)).all()
    ranges = report_format.documents.student_pages(content, len(item_ids))
    return [(item_id, first, count) for item_id, (first, count) in zip(item_ids, ranges, strict=True)]


def _combine(report: Report, report_format) -> tuple[bytes, dict]:
    """The report's one document from its students that succeeded (and its chunks' documents),
    and the sequences of the JSON metadata.

    Nothing of a cohort is held at once that is not needed at once: the students' rows are
    read a batch at a time and their sequences made one student at a time; a format that
    combines stored documents (PDF chunks, CSV students) keeps only each student's figures
    and reads the documents one by one as the combined document takes them."""
    labels, context = report.labels, report_context(report)
    documents = report_format.documents
    sequences, inputs = [], []
    rows = db.session.execute(_succeeded(report.id, ReportItem.position, ReportItem.input_json, ReportItem.metrics))
    for position, input_json, metrics in rows:
        [student] = parse_text(input_json)
        sequences.extend(sequence_response([student], labels)["students"])
        if not documents.combines_events:
            student = Student(student_id=student.student_id, namespace=student.namespace, events=())
            metrics = class_page_metrics(metrics)
        inputs.append(StudentInput(position + 1, student, metrics))
    part_ids = db.session.scalars(_part_ids(report.id)).all()
    chunks = (ChunkResult([], whole=content, complete=complete)
              for content, complete in (db.session.execute(_part_content(part_id)).one() for part_id in part_ids))
    parts = (content for (content,) in db.session.execute(_succeeded(report.id, ReportItem.content)))
    content = documents.combine(context, inputs, chunks, parts)
    return content, {**sequence_response([], labels), "students": sequences}


def chunk_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of a chunk (or a piece of one): once its retries are used up, fail its unfinished
    students (the rest of the batch goes on) and let the report finish."""
    if job.should_retry:
        return
    report_id, chunk = job.args[:2]
    if isinstance(exc_value, AbandonedJobError):
        message = ("The worker rendering this student stopped unexpectedly and the retries are used up; "
                   "it may have run out of memory.")
    elif isinstance(exc_value, JobFailed):
        message = (f"An unexpected error ({exc_value.cause_name}) stopped the rendering of this student; "
                   "the operator can find it in the worker's log.")
    else:
        message = (f"Gave up after repeated temporary errors ({_cause_name(exc_type, exc_value)}); "
                   "the database or queue was unavailable.")
    with job_scope(report_id):
        items = db.session.scalars(
            select(ReportItem.id).where(ReportItem.report_id == report_id, ReportItem.chunk == chunk,
                                        ReportItem.status.in_(ACTIVE))
        ).all()
        for item_id in items:
            state.finish_item(item_id, report_id, status=Status.FAILURE.value, error=message)
        state.queue_assembly_if_complete(report_id)


def assembly_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of the assembly: record the outage once retries are used up."""
    if job.should_retry:
        return
    with job_scope(job.args[0]):
        fail_report(job.args[0], f"Gave up assembling the report after repeated errors "
                                 f"({_cause_name(exc_type, exc_value)}); please try again.")


@fixed_text_errors
def send_delivery(delivery_id: int) -> str:
    """Email an upload's reports to one recipient, or POST a report's webhook; trouble sending
    never touches the reports."""
    with job_scope(None):
        delivery = db.session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.QUEUED.value:
            return "skipped"
        with task_context(delivery.report_id):
            return _send_webhook(delivery) if delivery.is_webhook else _send_email(delivery)


def _send_webhook(delivery: Delivery) -> str:
    """Record one attempt and POST the report's outcome (what its status JSON says), signed;
    a connection error, a timeout, 429 or 5xx is retried by RQ, any other failure is final.
    The ``webhook-id`` is the same on every attempt, so a receiver can drop a duplicate."""
    delivery_id, url = delivery.id, delivery.recipient
    message_id = delivery.message_id or f"msg_{uuid.uuid4().hex}"
    attempt = delivery.attempts + 1
    report = db.session.get(Report, delivery.report_id)
    with current_app.test_request_context():  # the links of the status JSON, built outside a request
        body = current_app.json.dumps(report_outcome(report)).encode("utf-8")
    state.record_delivery(delivery_id, attempts=attempt, message_id=message_id)
    try:
        settings = webhooks.Settings.from_config(current_app.config)
    except ValueError as exc:
        state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value, error=_sentence(str(exc)))
        return "failed"
    outcome = webhooks.deliver(url, body, message_id, settings)
    if outcome.delivered:
        state.record_delivery(delivery_id, status=DeliveryStatus.SENT.value, sent_at=utcnow(), error=None,
                              status_code=outcome.status_code)
        return "sent"
    if outcome.retry:
        state.record_delivery(delivery_id, error=f"Attempt {attempt} failed: {outcome.error}",
                              status_code=outcome.status_code)
        log.warning("webhook %s attempt %d failed: %s", delivery_id, attempt, outcome.error)
        raise TransientFailure(webhooks.AttemptFailed())
    state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value, error=_sentence(outcome.error),
                          status_code=outcome.status_code)
    return "failed"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _send_email(delivery: Delivery) -> str:
    """Record one attempt and send one message with every report of the upload that succeeded
    (the delivery's report is the upload's lead); a failed attempt is retried by RQ."""
    delivery_id = delivery.id
    lead = db.session.get(Report, delivery.report_id)
    config = current_app.config
    attempt = delivery.attempts + 1
    state.record_delivery(delivery_id, attempts=attempt)
    if not config["SMTP_HOST"]:
        state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value,
                              error="Email is not configured on this server (SMTP_HOST is unset).")
        return "failed"
    try:
        message = mail.build_message(mail.upload_reports(lead), lead, delivery.recipient, config["MAIL_FROM"],
                                     config["REPORTGEN_PUBLIC_URL"])
    except mail.NothingToSend:
        state.record_delivery(delivery_id, status=DeliveryStatus.SKIPPED.value,
                              error="No report of the upload was left to send (none succeeded, or they were deleted).")
        return "skipped"
    except mail.UnbuildableMessage as exc:
        state.fail_delivery(delivery_id, f"The message could not be built: {exc}")
        log.warning("delivery %s cannot be built: %s", delivery_id, exc)
        return "failed"
    try:
        mail.send(message, config)
    except mail.PermanentDeliveryError as exc:
        state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value,
                              error=f"The mail server refused the message: {exc}")
        return "failed"
    except Exception as exc:
        db.session.rollback()
        state.record_delivery(delivery_id, error=f"Attempt {attempt} failed: {mail.describe_smtp_error(exc)}")
        log.warning("delivery %s attempt %d failed: %r", delivery_id, attempt, exc)
        raise TransientFailure(exc) from None
    state.record_delivery(delivery_id, status=DeliveryStatus.SENT.value, sent_at=utcnow(), error=None,
                          message_id=message["Message-ID"])
    return "sent"


def delivery_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of a delivery: once retries are used up, the failure is final."""
    if job.should_retry:
        return
    with job_scope(job.meta.get("task_id")):
        delivery = db.session.get(Delivery, job.args[0])
        if delivery is not None:
            last_error = delivery.error or (f"unexpected {_cause_name(exc_type, exc_value)}; "
                                            "the details are in the worker's log")
            state.fail_delivery(delivery.id, f"Gave up after {delivery.attempts} attempts. Last error: {last_error}")
