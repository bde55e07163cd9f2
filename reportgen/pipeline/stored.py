"""Reading what is stored of a report: the one lookup by task id that every route shares (the
API and the pages), what its documents share, its students as uploaded, and one student's document.

A task id is the UUID a report was created with (``str(uuid.uuid4())``, lower case). Anything
else, a ``%00`` or a 10,000-character path segment included, names no report: it is answered
with the route's own 404 before it reaches the database (PostgreSQL refuses a NUL in a query
parameter, which used to be a 500).

It is also where a report is private (:mod:`reportgen.auth.clients`): a report the request's
client may not see is not found either, so a task id alone opens nobody else's report.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from ..auth.clients import visible_to_client
from ..domain.options import options_from_dict
from ..domain.submission import Student, parse_text
from ..extensions import db
from ..models import Report, ReportItem, ReportPart
from ..render import documents, formats
from ..render.documents import ReportContext, StudentInput

TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def find_report(task_id: str, *loader_options) -> Report | None:
    """The report with this task id (loaded with ``loader_options``) if the request's client
    may see it, else ``None``."""
    if not TASK_ID.fullmatch(task_id):
        return None
    return db.session.scalar(select(Report).where(Report.id == task_id, visible_to_client(Report))
                             .options(*loader_options))


def submission_reports(report: Report) -> list[Report]:
    """The reports one submission created (the form's, or ``POST /assignment``'s: one per format),
    in the registry's order of formats, or just this one."""
    if not report.submission_id:
        return [report]
    return formats.in_format_order(db.session.scalars(
        select(Report).where(Report.submission_id == report.submission_id, visible_to_client(Report))).all())


def report_context(report: Report) -> ReportContext:
    """What every part of the report's documents shares, as stored when it was submitted."""
    return ReportContext(labels=report.labels, cohorts=report.cohorts or {}, student_total=report.student_count,
                         options=options_from_dict(report.options), events_left_out=report.events_left_out or 0,
                         title=report.label, generated_at=report.created_at, source=report.input)


#: Students cut from one reader of a finished PDF before it is opened afresh (its parsed pages
#: stay cached in it: a 2,000-student ZIP would otherwise hold the whole document parsed).
READER_USES = 200

#: A student's own HTML or CSV document is stored only when it has more events than this;
#: a smaller one is rendered again when asked for (an HTML page of up to 1,000 events in a few
#: tens of milliseconds and megabytes, a CSV in less). Each one-event student's own HTML page
#: is a whole page (9.7 KB, 3.5 KB compressed, styles included): stored, 20,000 of them cost
#: 36 times their upload.
STORED_ABOVE_EVENTS = 1_000


def is_stored(event_count: int) -> bool:
    """Whether a student's own (HTML or CSV) document is stored, rather than rendered on request."""
    return event_count > STORED_ABOVE_EVENTS


def stored_upload(report: Report) -> list[Student]:
    """The students of a report as they were stored (after its window), in upload order: a
    retry submits them again. Each student's input is stored once, on its own row."""
    if report.input_json is not None:  # a report stored before 0007
        return parse_text(report.input_json)
    inputs = db.session.scalars(select(ReportItem.input_json).where(ReportItem.report_id == report.id)
                                .order_by(ReportItem.position))
    return [student for text in inputs for student in parse_text(text)]


def student_document(report: Report, item: ReportItem, parts: dict | None = None) -> bytes:
    """One student's finished document: stored as it is, or cut from a paged document: its
    chunk's (and its further pieces) while the report renders, the report's own once finished
    (which then holds every page once; the chunks' documents are gone).

    ``parts`` keeps documents already read for a caller that serves many students of one
    report, such as the ZIP bundle: one chunk's pieces at a time, or a reader of the finished
    document, opened afresh every few hundred students so its parsed pages do not pile up.
    """
    report_format = formats.get(report.format)
    if item.page_count is None:
        if item.content is not None:
            return item.content
        return _rendered_again(report, item, {} if parts is None else parts)
    parts = {} if parts is None else parts
    stored = parts.get(item.chunk)
    if stored is None and "finished" not in parts:
        chunk = db.session.scalars(
            select(ReportPart.content).where(ReportPart.report_id == report.id, ReportPart.chunk == item.chunk)
            .order_by(ReportPart.piece)
        ).all()
        if chunk:
            parts.clear()  # students come in upload order, chunk after chunk: keep one at a time
            parts[item.chunk] = stored = chunk
        elif report.content is None:  # no parts: the report finished since report and item were read
            db.session.refresh(report, ["content"])
            db.session.refresh(item)
    if stored is None:  # finished: every student is cut from the report's one document
        from ..render.html_pdf import open_pdf  # xhtml2pdf's weight: the web process loads it only here

        reader, served = parts.get("finished", (None, READER_USES))
        if served >= READER_USES:
            parts.clear()
            reader, served = open_pdf(report.content), 0
        parts["finished"] = (reader, served + 1)
        stored = [reader]
    return documents.of(report_format).student_document(None, stored, (item.first_page, item.page_count),
                                                          f"Activity report: {item.student_id}")


def _rendered_again(report: Report, item: ReportItem, parts: dict) -> bytes:
    """A small student's own HTML or CSV document, rendered as its chunk's job did (the same
    input, figures and report context, so the same bytes); ``parts`` keeps the context for a
    caller that serves many students."""
    context = parts.get("context")
    if context is None:
        context = parts["context"] = report_context(report)
    [student] = parse_text(item.input_json)
    return documents.of(formats.get(report.format)).render_student(
        context, StudentInput(item.position + 1, student, item.metrics))
