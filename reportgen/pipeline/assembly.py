"""Finishing a report: its summary and its one combined document from every student that
succeeded, stored in one conditional UPDATE, then its notifications (:mod:`.endings`).

Nothing of a cohort is held at once that is not needed at once: the students' rows are read a
batch at a time (:data:`reads.ASSEMBLY_BATCH`). The assembly runs in one process while the other
workers have nothing left to do, so it does as little as it can and the rest beside itself: the
sequences are made at submit, a PDF's students' pages follow from their chunks' (no bookmarks
read again), a PDF reads no student's events, and a large class's page is made in a child
process while the chunks' PDFs are merged (:mod:`reportgen.render.beside`). For the one-month
PDF of 2,000 students × 100 events (``bench/history_report_bench.py``) that took the assembly
from 6.5-8.1 s to 3.2-4.9 s (BENCHMARKS.md).
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence

from ..domain.report_data import class_page_metrics
from ..domain.sequencing import sequence_response
from ..domain.submission import Student, parse_text
from ..extensions import db
from ..models import Report, ReportItem, Status, decode_metrics
from ..render import documents, formats
from ..render.documents import ChunkResult, Combined, StudentInput
from . import memory, state
from .endings import fail_report, report_ended
from .reads import STORED_METRICS, STUDENT_PAGES, item_states, part_content, part_ids, succeeded
from .runtime import OutOfTime, cause_name, describe, rollback_and_classify
from .stored import report_context, stored_upload

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
        combined, part_keys = _combine(report, report_format)
        sequences = _sequences(report, items)
        item_pages = _student_pages(report_id, report_format, combined, part_keys)
        memory.release()  # the merge's garbage, before the document's bytes go to the database
    except Exception as exc:
        rollback_and_classify(exc)
        log.exception("report %s: assembly failed", report_id)
        fail_report(report_id, f"The combined document could not be built: {describe(exc)}", summary=summary)
        return "failed"
    content = combined.content
    kept = {} if sequences is None else {"sequences": sequences}
    finished = state.finish_report(
        report_id, content=content, content_type=report_format.content_type, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), summary=summary, item_pages=item_pages, **kept,
    )
    if not finished:
        return "skipped"
    log.info("report %s assembled: %d bytes in %.2f s", report_id, len(content), time.monotonic() - started,
             extra={"size": len(content), "students": len(items), "succeeded": count})
    report_ended(report_id)
    return "done"


def _student_pages(report_id: str, report_format, combined: Combined,
                   part_keys: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Where each student that succeeded lies in a paged document (item id, first page,
    count), so their own downloads are cut from it and the chunks' documents can go. A brief
    student, which shares its page (its chunk stored no pages for it), keeps none: its own
    document is rendered when asked for."""
    if not report_format.paged:
        return []
    items = [row for row in db.session.execute(succeeded(report_id, *STUDENT_PAGES)) if row.first_page is not None]
    ranges = documents.of(report_format).student_pages(
        combined, part_keys, [(row.chunk, row.first_page, row.page_count, row.pieces) for row in items])
    return [(row.id, first, count) for row, (first, count) in zip(items, ranges, strict=True)]


def _sequences(report: Report, items) -> dict | None:
    """The sequences of the JSON metadata: those the submit made (:func:`.submit.create_report`)
    of the students that succeeded, None when that is every student (they are stored already);
    made here from the stored inputs for a report submitted before the submit made them."""
    made = report.sequences
    if made is not None and all(item.status == Status.SUCCESS.value for item in items):
        return None
    if made is None:
        made = sequence_response(stored_upload(report), report.labels)
    kept = [entry for entry, item in zip(made["students"], items, strict=True) if item.status == Status.SUCCESS.value]
    return {**made, "students": kept}


def _combine(report: Report, report_format) -> tuple[Combined, list[tuple[int, int]]]:
    """The report's one document from its students that succeeded (and its chunks' documents,
    named by chunk and piece). A format that combines stored documents (PDF chunks) reads only
    each student's figures, and the chunks' documents one by one as the combined document
    takes them."""
    context = report_context(report)
    renderer = documents.of(report_format)
    inputs = []
    if renderer.combines_events:
        rows = db.session.execute(succeeded(report.id, ReportItem.position, ReportItem.input_json, ReportItem.metrics))
        for position, input_json, metrics in rows:
            [student] = parse_text(input_json)
            inputs.append(StudentInput(position + 1, student, metrics))
    else:
        inputs = ClassPageInputs(db.session.execute(succeeded(report.id, ReportItem.position, ReportItem.student_id,
                                                              ReportItem.namespace, STORED_METRICS)).all())
    chunk_parts = db.session.execute(part_ids(report.id)).all()
    chunks = (ChunkResult([], whole=content, complete=complete)
              for content, complete in (db.session.execute(part_content(part.id)).one() for part in chunk_parts))
    parts = (content for (content,) in db.session.execute(succeeded(report.id, ReportItem.content)))
    combined = renderer.combine(context, inputs, chunks, parts)
    return combined, [(part.chunk, part.piece) for part in chunk_parts]


class ClassPageInputs(Sequence[StudentInput]):
    """The students of a class page, each read as it is asked for: its figures decoded from the
    stored bytes then, in whichever process makes the page (for a large class, a child of the
    assembly's: :mod:`reportgen.render.beside`). Decoding 2,000 students' metrics took 0.75 s."""

    def __init__(self, rows: list):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> StudentInput:
        position, student_id, namespace, stored = self.rows[index]
        return StudentInput(position + 1, Student(student_id=student_id, namespace=namespace, events=()),
                            class_page_metrics(decode_metrics(stored)))


def give_up_assembly(report_id: str, exc_type, exc_value) -> None:
    """Once the assembly's retries (or its time) are used up: record why on the report."""
    if isinstance(exc_value, OutOfTime):
        fail_report(report_id, f"Putting the report together took longer than the {exc_value.seconds:g} s a job may "
                               "take (REPORTGEN_JOB_TIMEOUT).")
        return
    fail_report(report_id, f"Gave up assembling the report after repeated errors "
                           f"({cause_name(exc_type, exc_value)}); please try again.")
