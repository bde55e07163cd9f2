"""Finishing a report: its summary and its one combined document from every student that
succeeded, stored in one conditional UPDATE, then its notifications (:mod:`.endings`).

Nothing of a cohort is held at once that is not needed at once: the students' rows are read a
batch at a time (:data:`reads.ASSEMBLY_BATCH`) and their sequences made one student at a time.
"""
from __future__ import annotations

import hashlib
import logging
import time

from ..domain.report_data import class_page_metrics
from ..domain.sequencing import sequence_response
from ..domain.submission import Student, parse_text
from ..extensions import db
from ..models import Report, ReportItem
from ..render import documents, formats
from ..render.documents import ChunkResult, StudentInput
from . import memory, state
from .endings import fail_report, report_ended
from .reads import item_states, part_content, part_ids, succeeded
from .runtime import OutOfTime, cause_name, describe, rollback_and_classify
from .stored import report_context

log = logging.getLogger(__name__)


def assemble(report_id: str) -> str:
    """Write the summary and the combined document of every student that succeeded."""
    report = state.begin_assembly(report_id)
    if report is None:
        return "skipped"
    started = time.monotonic()
    items = db.session.execute(item_states(report_id)).all()
    summary = state.summarise(items)
    count = summary["succeeded"]
    if not count:
        first_error = next((item.error for item in items if item.error), "no students")
        fail_report(report_id, f"All {len(items)} students failed; the first error: {first_error}", summary=summary)
        return "failed"
    report_format = formats.get(report.format)
    try:
        content, sequences = _combine(report, report_format)
        item_pages = _student_pages(report_id, report_format, content)
        memory.release()  # the merge's garbage, before the document's bytes go to the database
    except Exception as exc:
        rollback_and_classify(exc)
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
             extra={"size": len(content), "students": len(items), "succeeded": count})
    report_ended(report_id)
    return "done"


def _student_pages(report_id: str, report_format, content: bytes) -> list[tuple[int, int, int]]:
    """Where each student that succeeded lies in a paged document (item id, first page,
    count), so their own downloads are cut from it and the chunks' documents can go. A brief
    student, which shares its page (its chunk stored no pages for it), keeps none: its own
    document is rendered when asked for."""
    if not report_format.paged:
        return []
    items = db.session.execute(succeeded(report_id, ReportItem.id, ReportItem.first_page)).all()
    ranges = documents.of(report_format).student_pages(content, len(items))
    return [(item_id, first, count) for (item_id, chunk_first), (first, count) in zip(items, ranges, strict=True)
            if chunk_first is not None]


def _combine(report: Report, report_format) -> tuple[bytes, dict]:
    """The report's one document from its students that succeeded (and its chunks' documents),
    and the sequences of the JSON metadata. A format that combines stored documents (PDF chunks,
    CSV students) keeps only each student's figures and reads the documents one by one as the
    combined document takes them."""
    labels, context = report.labels, report_context(report)
    renderer = documents.of(report_format)
    sequences, inputs = [], []
    rows = db.session.execute(succeeded(report.id, ReportItem.position, ReportItem.input_json, ReportItem.metrics))
    for position, input_json, metrics in rows:
        [student] = parse_text(input_json)
        sequences.extend(sequence_response([student], labels)["students"])
        if not renderer.combines_events:
            student = Student(student_id=student.student_id, namespace=student.namespace, events=())
            metrics = class_page_metrics(metrics)
        inputs.append(StudentInput(position + 1, student, metrics))
    chunk_parts = db.session.scalars(part_ids(report.id)).all()
    chunks = (ChunkResult([], whole=content, complete=complete)
              for content, complete in (db.session.execute(part_content(part_id)).one() for part_id in chunk_parts))
    parts = (content for (content,) in db.session.execute(succeeded(report.id, ReportItem.content)))
    content = renderer.combine(context, inputs, chunks, parts)
    return content, {**sequence_response([], labels), "students": sequences}


def give_up_assembly(report_id: str, exc_type, exc_value) -> None:
    """Once the assembly's retries (or its time) are used up: record why on the report."""
    if isinstance(exc_value, OutOfTime):
        fail_report(report_id, f"Putting the report together took longer than the {exc_value.seconds:g} s a job may "
                               "take (REPORTGEN_JOB_TIMEOUT).")
        return
    fail_report(report_id, f"Gave up assembling the report after repeated errors "
                           f"({cause_name(exc_type, exc_value)}); please try again.")
