"""Rendering a report's students, a chunk (or a piece of one student's event log) at a time.

A report fans out into chunk jobs on the report queue, and a student whose PDF event log is
too long for one job into further piece jobs right behind its chunk's, so several workers share
it. The job that finishes the last chunk (or piece) finishes the report: itself for a report of
one chunk (no second job), else through an assembly job on the finishing queue. Bad data fails
a student, never the batch. Every write goes through :mod:`reportgen.pipeline.state`, whose
conditional UPDATEs make a re-run, or a run after a cancel, change nothing it should not.
"""
from __future__ import annotations

import hashlib
import logging
import time

from redis.exceptions import RedisError
from rq.exceptions import AbandonedJobError
from sqlalchemy import select

from ..domain.submission import parse_text
from ..extensions import db
from ..models import ReportItem, Status
from ..render import documents, formats
from ..render.documents import ReportContext, StudentInput, log_rows
from . import assembly, state
from .reads import chunk_items, unfinished_item
from .runtime import JobFailed, OutOfTime, TransientFailure, cause_name, describe, rollback_and_classify
from .state import ACTIVE
from .stored import is_stored, report_context

log = logging.getLogger(__name__)


def render_chunk(report_id: str, chunk: int) -> str:
    """Render the unfinished students of one chunk; re-running skips the finished ones (a
    paged format renders its finished students again, so the chunk's document holds them
    all, without counting them twice). The job that finishes the last chunk finishes the
    report: at once for a report of one chunk, else by queueing its assembly."""
    warm = documents.renderer_loaded()  # by the worker before it forked (documents.warm_up)
    report = state.start_report(report_id)
    if report is None:
        return "skipped"
    report_format = formats.get(report.format)
    context = report_context(report)
    one_chunk, student_count = report.chunk_count == 1, report.student_count
    work = db.session.execute(chunk_items(report_id, chunk, report_format.paged)).all()
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
    rollback_and_classify(exc)
    log.exception("report %s: student item %s failed", report_id, item_id)
    state.finish_item(item_id, report_id, status=Status.FAILURE.value, error=describe(exc))


def _render_inputs(report_id: str, report_format, context: ReportContext, chunk: int, inputs: list[StudentInput],
                   rows: list, claimed: set[int], *, whole_report: bool) -> None:
    """Render the students and store them (:func:`_store`). A chunk that renders but cannot be
    stored fails its students saying so: it is no worker's death, and is not retried as one."""
    try:
        result = documents.of(report_format).render_chunk(context, inputs, whole_report=whole_report)
    except Exception as exc:
        rollback_and_classify(exc)
        raise
    if len(result.students) != len(rows):  # never finish some and leave the rest to look lost
        _fail_claimed(report_id, rows, claimed, f"The chunk was rendered with {len(result.students)} of its "
                                                f"{len(rows)} students, so it could not be stored.")
        return
    try:
        _store(report_id, chunk, result, rows, claimed)
    except Exception as exc:
        rollback_and_classify(exc)
        log.exception("report %s: chunk %d was rendered but could not be stored", report_id, chunk)
        _fail_claimed(report_id, rows, claimed, f"The student's document was made but could not be stored "
                                                f"({type(exc).__name__}); the operator can find why in the worker's log.")


def _fail_claimed(report_id: str, rows: list, claimed: set[int], message: str) -> None:
    """Fail the unfinished students this job claimed, with ``message``: not a worker's death,
    so not retried as one."""
    for row in rows:
        if row.id in claimed:
            state.finish_item(row.id, report_id, status=Status.FAILURE.value, error=message)


def _store(report_id: str, chunk: int, result, rows: list, claimed: set[int]) -> None:
    """Store the chunk's document (if any), then finish each student (one cut into pieces once
    its further pieces are stored too)."""
    if result.whole is not None and not state.store_chunk_document(report_id, chunk, result.whole, result.complete):
        return
    for row, outcome in zip(rows, result.students, strict=True):
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
            values.update(size=len(content), sha256=hashlib.sha256(content).hexdigest())
            if is_stored(row.event_count):
                values.update(content=content)
        state.finish_item(item_id, report_id, status=Status.SUCCESS.value, error=None, **values)


def render_piece(report_id: str, chunk: int, piece: int) -> str:
    """Render a further piece of the event log of a chunk's student cut into pieces; the job
    that stores the student's last piece finishes it (and the report, as a chunk's would)."""
    report = state.start_report(report_id)
    if report is None:
        return "skipped"
    report_format, context, one_chunk = formats.get(report.format), report_context(report), report.chunk_count == 1
    row = db.session.execute(unfinished_item(report_id, chunk)).first()
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
            content = documents.of(report_format).render_piece(context, item)
        except Exception as exc:
            rollback_and_classify(exc)
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
                assembly.assemble(report_id)
        else:
            state.queue_assembly_if_complete(report_id)
    except RedisError as exc:
        raise TransientFailure(exc) from None


def give_up_chunk(report_id: str, chunk: int, exc_type, exc_value) -> None:
    """Once a chunk's (or a piece's) retries are used up: fail its unfinished students (the rest
    of the batch goes on) and let the report finish."""
    if isinstance(exc_value, OutOfTime):
        message = (f"Rendering this student took longer than the {exc_value.seconds:g} s a job may take "
                   "(REPORTGEN_JOB_TIMEOUT); it was not tried again, since it would take as long again.")
    elif isinstance(exc_value, AbandonedJobError):
        message = ("The worker rendering this student stopped unexpectedly and the retries are used up; "
                   "it may have run out of memory.")
    elif isinstance(exc_value, JobFailed):
        message = (f"An unexpected error ({exc_value.cause_name}) stopped the rendering of this student; "
                   "the operator can find it in the worker's log.")
    else:
        message = (f"Gave up after repeated temporary errors ({cause_name(exc_type, exc_value)}); "
                   "the database or queue was unavailable.")
    items = db.session.scalars(
        select(ReportItem.id).where(ReportItem.report_id == report_id, ReportItem.chunk == chunk,
                                    ReportItem.status.in_(ACTIVE))
    ).all()
    for item_id in items:
        state.finish_item(item_id, report_id, status=Status.FAILURE.value, error=message)
    state.queue_assembly_if_complete(report_id)
