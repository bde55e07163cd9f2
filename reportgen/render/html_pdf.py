"""Render report data as a standalone HTML page or as a PDF, from one Jinja template family.

A PDF is built by xhtml2pdf from one HTML document per chunk of students (the overview
first when the chunk is the whole report); each student's section starts a page with a
bookmark, and :func:`page_ranges` reads the bookmarks back so one student's pages can be
cut out later (:func:`extract_pages`) instead of rendering every student as a document of
its own: xhtml2pdf's fixed cost per document and pypdf's merge would cost more than the
students themselves.

Layout for speed (``bench/report_bench.py``): xhtml2pdf pays for every laid-out line and
about 0.3 ms for every table cell, so the PDF's tables (per unit, class, event log) are drawn
cell by cell by a flowable of our own (:mod:`reportgen.render.pdf_tables`), each cell in its own
direction and faces, and copy out as their words. Charts are drawn onto the canvas from their
marks (:mod:`reportgen.render.pdf_charts`). The HTML page uses ordinary tables and inline SVG.

The finished PDF (:func:`merge_parts`, for a one-chunk report too) is numbered "page N of M"
across its parts and its class table's links lead to the students' pages; a student's own
document cut out of it (:func:`extract_pages`) is numbered again.

xhtml2pdf may read nothing but files under ``static/``: :func:`link_callback` maps every URL
the markup names to a file there or refuses it (``data:`` URIs too), and a resource policy that
forbids the network and any other directory backs it up.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import io
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import jinja2
from markupsafe import Markup, escape
from pypdf import PdfReader, PdfWriter
from pypdf.constants import PageAttributes as PG
from pypdf.generic import ArrayObject, BooleanObject, DecodedStreamObject, DictionaryObject, NameObject
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from xhtml2pdf import pisa
from xhtml2pdf.bidi import needs_bidi
from xhtml2pdf.config.resources import ResourceAccessPolicy

from ..config import ROOT_DIR
from ..domain.analytics import FLAG_NAMES
from ..domain.figures import format_duration, plural, zone_label
from ..domain.report_data import CohortReport, ReportData, StudentReport, heat_units
from . import charts, fonts, pdf_charts, pdf_tables
from .pdf_tables import Column

TEMPLATES_DIR = ROOT_DIR / "templates"
STATIC_DIR = ROOT_DIR / "static"
DOCUMENT_TEMPLATE = "report/document.html"
#: Where a PDF's ``@font-face`` rules go, once the document's text says which faces it needs.
FONT_FACES_MARKER = "/* font faces */"

#: How much of a student's sequence a PDF prints: no reader pages through more, and xhtml2pdf
#: lays out one huge paragraph in time that grows faster than its length (a 235,000-event
#: student's sequence took minutes). The HTML, CSV and JSON carry the whole of it.
PDF_SEQUENCE_LABELS = 2000
#: Event-log rows one HTML page lists in all, and visit rows too (see :func:`page_rows`).
HTML_LOG_ROWS = 20_000
PDF_SEQUENCE_RUNS = 500

#: What xhtml2pdf may fetch: no network at all, local files only below ``static/``.
_RESOURCE_POLICY = ResourceAccessPolicy(allow_remote=False, base_dir=STATIC_DIR)

# ReportLab wraps every compressed stream (pages, font subsets) in ASCII85 by default, a
# 7-bit-clean text encoding no reader needs since PDF 1.0 allowed binary: it makes them 25%
# larger, and the database's compression of the stored document finds less to share between
# near-identical pages behind it (2,000 one-event students: 634 → 502 bytes stored a student).
rl_config.useA85 = 0


pdf_tables.install()
pdf_charts.install()


class RenderError(Exception):
    """xhtml2pdf reported errors while building a PDF."""


#: Widest a per-type count's header gets in the PDF's unit table, and the unit column's share of it.
TYPE_COLUMN_WIDTH = 46.0
UNIT_COLUMN_WIDTH = 150.0


def unit_table(student: StudentReport) -> pdf_tables.Table:
    """The per-unit table of the PDF: label, unit (its name when it has one), events, per-type counts, visits, time, touches."""
    types = [Column(name, right=True, widest=TYPE_COLUMN_WIDTH) for name in student.type_columns]
    other = [Column("other", right=True)] if student.has_other_types else []
    columns = [Column(""), Column("Unit", flexible=True, widest=UNIT_COLUMN_WIDTH), Column("Events", right=True),
               *types, *other, Column("Visits", right=True), Column("Time", right=True), Column("First touch"),
               Column("Last touch")]
    rows = [
        (row.label, row.name or row.unit, row.events, *row.type_counts, *([row.other_types] if other else []),
         row.visits, row.time, row.first, row.last)
        for row in student.units
    ]
    return pdf_tables.lay_out(columns, rows)


def shortened_names(student: StudentReport, table: pdf_tables.Table) -> list[str]:
    """Units and event types too long for the PDF's unit table, to be printed in full beneath,
    and the ids of units the table shows by name."""
    cut = set(table.cut)
    units = [f"{row.label} = {row.name} ({row.unit})" if row.name else f"{row.label} = {row.unit}"
             for row in student.units if row.name or row.unit in cut]
    titles = {column.title for column in table.columns}
    types = sorted(name for name in student.type_columns if name not in titles)
    return units + [f"type: {name}" for name in types]


def overview_table(report: ReportData) -> pdf_tables.Table:
    """The class table of the PDF; each student's name links to the student's first page, and
    each percentile-rank column says in words which measure it ranks."""
    columns = [Column("#", right=True), Column("Student", flexible=True), Column("Events", right=True),
               Column("Time", right=True), Column("Revisits", right=True), Column("Events rank", right=True),
               Column("Time rank", right=True), Column("Revisits rank", right=True), Column("Flags", flexible=True)]
    rows = [
        (student.number, f"{student.student_id} · {student.name}" if student.name else student.student_id,
         student.event_count, student.time_on_task, student.revisits,
         *(f"P{student.ranks[key]}" for key in ("events", "time_on_task", "revisits")),
         ", ".join(FLAG_NAMES.get(code, code) for code in student.flag_codes) or "—")
        for student in report.students
    ]
    links = [f"#student-{student.number}" for student in report.students]
    return pdf_tables.lay_out(columns, rows, links=links, link_column=1)


def units_table(cohort: CohortReport) -> pdf_tables.Table:
    """The PDF's table of a class's units: reached by, median time, came back, saves per
    submission (the hardest unit marked with ◆)."""
    columns = [Column(""), Column("Unit", flexible=True), Column("Reached by", right=True),
               Column("Median time", right=True), Column("Came back", right=True),
               Column("Saves per submission", right=True)]
    rows = [(unit.label, unit.unit + (" ◆" if unit.hardest else ""), unit.reached, unit.median_time, unit.returned,
             unit.saves_per_submission) for unit in cohort.units]
    return pdf_tables.lay_out(columns, rows)


def event_listing(student: StudentReport) -> pdf_tables.Table:
    """Columns ``# time label type unit``: the free-length unit last; times in the report's zone."""
    zone_name = getattr(student.where, "key", "UTC")
    columns = [Column("#", right=True), Column(f"Time ({zone_name})"), Column("Label"),
               Column("Type", widest=TYPE_COLUMN_WIDTH * 1.5), Column("Unit", flexible=True)]
    rows = [(event.position, event.time.rsplit(" ", 1)[0], event.label, event.type or "—", event.unit)
            for event in student.events]
    return pdf_tables.lay_out(columns, rows)


def event_rows(student: StudentReport, limit: int | None = None) -> Markup:
    """The HTML event log's table rows (the first ``limit``), escaped here in one pass: a
    student can have hundreds of thousands of events, and a Jinja loop escapes every cell on
    its own."""
    if limit is not None and limit < student.event_count:
        student = dataclasses.replace(student, log_rows=(0, limit))
    return Markup("".join(
        f'<tr><td class="num">{event.position}</td><td class="when">{escape(event.time)}</td>'
        f"<td>{event.label}</td><td>{escape(event.type) or '—'}</td><td>{escape(event.unit)}</td></tr>\n"
        for event in student.events
    ))




def sequence_paragraphs(student: StudentReport, slices: Sequence[tuple[int, int, str]]) -> list[list[tuple[str, str]]]:
    """The PDF's sequence as :func:`.pdf_tables.wrapped` paragraphs: the compressed runs, then
    the labels in numbered slices, as the HTML writes them."""
    numbered = len(slices) > 1
    return [[(pdf_tables.BOLD, "Compressed:"), (pdf_tables.PLAIN, student.compressed_head(PDF_SEQUENCE_RUNS))],
            *([*([(pdf_tables.MUTED, f"{first}–{last}:")] if numbered else []), (pdf_tables.PLAIN, labels)]
              for first, last, labels in slices)]


def _chart_size(pdf: bool) -> dict[str, float]:
    return {} if pdf else {"zoom": charts.SCREEN_ZOOM, "width": charts.SCREEN_WIDTH}


def timeline_chart(student: StudentReport, pdf: bool = True) -> charts.Chart:
    returns = sum(mark.returned for mark in student.visits)
    zone = zone_label(student.visits[0].start.astimezone(student.where)) if student.visits else "UTC"
    description = (f"{len(student.visits)} timed visits to {student.unit_count} units between "
                   f"{student.timeline_start} and {student.timeline_end} {zone}, {returns} of them returns.")
    return charts.timeline(student.unit_rows, student.visits, f"Timeline of {student.student_id}", description,
                           where=student.where, **_chart_size(pdf))


def _duration(seconds: float) -> str:
    return format_duration(int(seconds))


def activity_chart(student: StudentReport, pdf: bool = True) -> charts.Chart:
    """A student's events and time on task per day or week, the class median beside them."""
    activity = student.activity
    description = (f"Events and time on task of {student.student_id} per {activity['per']} over "
                   f"{len(activity['starts'])} {activity['per']}s from {activity['starts'][0]}, beside the class median.")
    panels = (charts.ActivityPanel("Events", activity["events"], activity["class_median_events"]),
              charts.ActivityPanel("Time on task", activity["seconds"], activity["class_median_seconds"], _duration))
    return charts.activity(activity["starts"], activity["per"], panels, f"Activity of {student.student_id}",
                           description, **_chart_size(pdf))


def class_activity_chart(cohort: CohortReport, pdf: bool = True) -> charts.Chart:
    """A class's events, time on task and active students per day or week."""
    activity = cohort.activity
    description = (f"Events and time on task of the class and students with events per {activity['per']} over "
                   f"{len(activity['starts'])} {activity['per']}s from {activity['starts'][0]}.")
    panels = (charts.ActivityPanel("Events of the class", activity["events"]),
              charts.ActivityPanel("Time on task of the class", activity["seconds"], format_value=_duration),
              charts.ActivityPanel("Students active", activity["students"]))
    return charts.activity(activity["starts"], activity["per"], panels,
                           f"Activity of {cohort.namespace or 'the upload'}", description, **_chart_size(pdf))


def distribution_chart(cohort: CohortReport, pdf: bool = True) -> charts.Chart:
    def strip(measure) -> charts.Strip:
        scale, unit_text = (60, "minutes") if measure.name == "Time on task" else (1, "per student")
        p15, median, p85 = (value / scale for value in measure.raw)
        return charts.Strip(measure.name, tuple(value / scale for value in measure.values), p15, median, p85,
                            unit_text)

    description = "; ".join(f"{measure.name}: 15th percentile {measure.p15}, median {measure.median}, "
                            f"85th percentile {measure.p85}" for measure in cohort.ranges)
    return charts.distribution([strip(measure) for measure in cohort.ranges], f"How the {cohort.students} students of {cohort.namespace or 'the upload'} spread",
                               description, format_value=lambda value: f"{value:.0f}", **_chart_size(pdf))


@jinja2.pass_context
def isolate(context, value: object) -> Markup:
    """A name (student, namespace) set apart from the sentence around it for the bidi
    algorithm, when it has right-to-left text: otherwise a namespace like "مدرسة-1" turned the
    date after it into Arabic-context numbers and the line read "10:00:00 01-07-2024 · …".
    ``<bdi>`` in HTML. In the PDF a left-to-right mark on either side (the report's sentences
    are left to right): xhtml2pdf honours it and does not draw it, and DejaVu has a glyph for
    it, where xhtml2pdf would warn of a missing glyph for the isolate controls U+2068/U+2069."""
    text = str(value)
    if not needs_bidi(text):
        return escape(text)
    return Markup("\u200e%s\u200e" if context["pdf"] else "<bdi>%s</bdi>") % text


#: The class's unit charts on a screen: the screen geometry of every chart (:data:`charts.SCREEN_WIDTH`,
#: text zoomed by :data:`charts.SCREEN_ZOOM`), so their smallest text is 11 px on a phone too.
SCREEN_FONT = 7 * charts.SCREEN_ZOOM
#: Students a PDF's heat map shows at most (rows of 1.6 pt); the units CSV has every one.
PDF_HEAT_ROWS = 350
#: Row labels (``#12``) a PDF's heat map prints at most, so they stay legible on rows of 2 pt.
PDF_HEAT_ROW_LABELS = 10


def units_chart(cohort: CohortReport, pdf: bool = True) -> charts.Chart:
    description = "; ".join(
        f"{unit.label} (unit {unit.unit}): reached by {unit.reached}, median time {unit.median_time}, "
        f"{unit.returned} came back" for unit in cohort.units)
    return charts.units_chart(cohort.units, f"The units of {cohort.namespace or 'the upload'}", description,
                              **({} if pdf else {"width": charts.SCREEN_WIDTH, "font": SCREEN_FONT}))


class HeatMap(NamedTuple):
    chart: charts.Chart
    legend: list[tuple[str, str]]
    shown: int
    units_shown: int
    no_time: str = charts.NO_TIME


def heat_chart(cohort: CohortReport, pdf: bool = True) -> HeatMap:
    units = heat_units(cohort.units)
    bounds = charts.heat_bounds([seconds for row in cohort.heat for seconds in row.seconds if seconds])
    rows = cohort.heat[:PDF_HEAT_ROWS] if pdf else cohort.heat
    description = (f"Time on task of each of {len(rows)} students (rows, by number in the upload) on each of "
                   f"{len(units)} units (columns); darker is more time, empty is never reached.")
    chart = charts.heatmap(units, rows, f"Time on task by unit in {cohort.namespace or 'the upload'}", description,
                           bounds, **({"row_labels": PDF_HEAT_ROW_LABELS} if pdf else
                                      {"width": charts.SCREEN_WIDTH, "font": SCREEN_FONT}))
    return HeatMap(chart, charts.heat_legend(bounds), len(rows), len(units))


@functools.cache
def report_environment() -> jinja2.Environment:
    """The report templates' own environment: escapes everything, fails on unknown names."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["isolate"] = isolate
    environment.globals.update(
        event_listing=event_listing, event_rows=event_rows, pdf_table=pdf_tables.markup, pdf_chart=pdf_charts.markup,
        pdf_destination=pdf_tables.destination, pdf_wrapped=pdf_tables.wrapped, pdf_footer=pdf_tables.footer,
        sequence_paragraphs=sequence_paragraphs, unit_table=unit_table, overview_table=overview_table, plural=plural,
        shortened_names=shortened_names, timeline_chart=timeline_chart, activity_chart=activity_chart,
        class_activity_chart=class_activity_chart, distribution_chart=distribution_chart,
        units_table=units_table, units_chart=units_chart, heat_chart=heat_chart, flag_names=FLAG_NAMES,
        font_faces=lambda: FONT_FACES_MARKER, body_families=fonts.BODY_FAMILIES,
    )
    return environment


def _render_document(report: ReportData, *, pdf: bool, overview: bool, sections: Sequence[StudentReport],
                     document_title: str | None = None, log_piece: bool = False,
                     html_log_rows: dict[int, int] | None = None, html_visit_rows: dict[int, int] | None = None) -> str:
    return report_environment().get_template(DOCUMENT_TEMPLATE).render(
        report=report,
        pdf=pdf,
        overview=overview,
        sections=sections,
        log_piece=log_piece,
        pdf_sequence_labels=PDF_SEQUENCE_LABELS,
        html_log_rows=html_log_rows or {},
        html_visit_rows=html_visit_rows or {},
        html_log_limit=HTML_LOG_ROWS,
        document_title=document_title or report.title,
    )


def page_rows(report: ReportData, count, budget: int) -> dict[int, int]:
    """How many rows of a table each student's section of an HTML page lists (``count`` of a
    student is how many it has) when the page lists ``budget`` in all, in upload order. A page
    with a 235,000-event student's event log and visits was 63 MB (a browser, above all a
    phone's, gives up) and took a worker over 600 MiB to make; the CSV has every event."""
    remaining, rows = budget, {}
    for student in report.students:
        rows[student.number] = min(count(student), remaining)
        remaining -= rows[student.number]
    return rows


def render_html(report: ReportData) -> str:
    """The whole report as one self-contained HTML document (inline CSS and SVG, nothing external)."""
    return _render_document(report, pdf=False, overview=len(report.students) > 1, sections=report.students,
                            html_log_rows=page_rows(report, lambda student: student.event_count, HTML_LOG_ROWS),
                            html_visit_rows=page_rows(report, lambda student: len(student.visits), HTML_LOG_ROWS))


def link_callback(uri: str, rel: str | None) -> str | None:
    """The absolute path of the file under ``static/`` that ``uri`` names, or None to refuse.

    Only relative (or absolute but inside ``static/``) paths to existing files qualify;
    URLs with a scheme or host, ``..`` and symlink escapes are refused. ``rel`` (the
    document's directory to xhtml2pdf) is ignored: relative URLs resolve against ``static/``.
    """
    try:
        parts = urlsplit(str(uri))
        if parts.scheme or parts.netloc or not parts.path:
            return None
        root = STATIC_DIR.resolve()
        target = (root / unquote(parts.path)).resolve()
        if target.is_relative_to(root) and target.is_file():
            return str(target)
    except (OSError, ValueError):
        return None
    return None


def _pisa_link_callback(uri: str, rel: str | None) -> str:
    """:func:`link_callback` for xhtml2pdf, which fetches the original URL when told None.

    A refusal becomes ``static/`` itself: a directory, which xhtml2pdf reads as a missing
    resource (a warning, no fetch, no error).
    """
    return link_callback(uri, rel) or str(STATIC_DIR.resolve())


#: The youngest generation's collection threshold while a PDF is made (CPython's default is 700).
RENDER_GC_THRESHOLD = 20_000
#: Documents being built now, and the threshold to go back to when none is: the threshold is the
#: process's, and the web process merges a student's pieces in several threads at once.
_building = {"count": 0, "threshold": gc.get_threshold()}
_building_lock = threading.Lock()


@contextlib.contextmanager
def _fewer_collections():
    """Collect the youngest objects every 20,000 allocations, not every 700, while xhtml2pdf and
    pypdf build a document: they allocate hundreds of thousands of objects that live until the
    document is done, so most collections found nothing to free while walking ever more of them
    (200 students x 100 events: 2.94 -> 2.69-2.80 s of CPU; a merge of 41 chunks 2.0 -> 1.1 s with
    no collection at all). What cycles the render leaves are freed at the next collection, a
    few megabytes later. The first document to start raises it, the last to end puts it back,
    so threads building documents at once cannot leave it raised."""
    with _building_lock:
        if not _building["count"]:
            _building["threshold"] = gc.get_threshold()
            gc.set_threshold(max(_building["threshold"][0], RENDER_GC_THRESHOLD), *_building["threshold"][1:])
        _building["count"] += 1
    try:
        yield
    finally:
        with _building_lock:
            _building["count"] -= 1
            if not _building["count"]:
                gc.set_threshold(*_building["threshold"])


def html_to_pdf(html: str) -> bytes:
    """Convert one HTML document with xhtml2pdf, locked to ``static/``; RenderError on errors."""
    output = io.BytesIO()
    with _fewer_collections():
        status = pisa.CreatePDF(
            html,
            dest=output,
            encoding="utf-8",
            link_callback=_pisa_link_callback,
            resource_policy=_RESOURCE_POLICY,
            capacity=-1,  # never spill to a temporary file, which xhtml2pdf would leave open
        )
    if status.err:
        problems = "; ".join(
            str(message) for mode, _line, message, _fragment in status.log if mode == "error"
        )
        raise RenderError(f"xhtml2pdf reported {status.err} error(s): {problems or 'no details'}")
    return output.getvalue()


class PdfPart(NamedTuple):
    """A rendered PDF and, per student section in it, its first page (0-based) and page count."""

    content: bytes
    pages: list[tuple[int, int]]


def page_ranges(pdf: bytes, sections: int) -> list[tuple[int, int]]:
    """Where each student section of ``pdf`` starts and how long it is, read from its bookmarks
    (the last ``sections`` top-level bookmarks are the students, in order)."""
    reader = PdfReader(io.BytesIO(pdf))
    starts = [reader.get_destination_page_number(item) for item in reader.outline if not isinstance(item, list)]
    starts = starts[len(starts) - sections:]
    ends = [*starts[1:], len(reader.pages)]
    return [(start, end - start) for start, end in zip(starts, ends)]


def render_pdf(report: ReportData, *, overview: bool | None = None,
               sections: Sequence[StudentReport] | None = None) -> PdfPart:
    """One PDF of ``sections`` (all students by default), after the overview when asked
    (by default when the report has several students)."""
    sections = report.students if sections is None else sections
    overview = len(report.students) > 1 if overview is None else overview
    title = report.title
    if len(sections) == 1 and len(report.students) > 1:
        title = f"{report.title} — {sections[0].student_id}"
    html = _render_document(report, pdf=True, overview=overview, sections=sections, document_title=title)
    content = html_to_pdf(html.replace(FONT_FACES_MARKER, fonts.font_face_css(html), 1))
    return PdfPart(content, page_ranges(content, len(sections)) if sections else [])


def render_log_piece(report: ReportData, student: StudentReport) -> bytes:
    """A further piece of ``student``'s event log (its :attr:`~StudentReport.log_rows`) as a
    PDF of its own, to follow the student's pages."""
    html = _render_document(report, pdf=True, overview=False, sections=[student], log_piece=True,
                            document_title=f"{report.title} — {student.student_id}")
    return html_to_pdf(html.replace(FONT_FACES_MARKER, fonts.font_face_css(html), 1))


def open_pdf(pdf: bytes) -> PdfReader:
    """A reader to cut many students' pages from one document without parsing it again each time."""
    return PdfReader(io.BytesIO(pdf))


#: "page N of M": 7 pt, the footer's grey, right-aligned on the footer's baseline
#: (templates/report/_pdf.css: the text frame ends 42 pt + 511 pt from the left).
PAGE_NUMBER_RIGHT = 553.0
PAGE_NUMBER_BASELINE = 25.07
PAGE_NUMBER_FONT = NameObject("/ReportgenPageNumber")
#: Marks the content streams :func:`number_pages` adds, so a document numbered again (a
#: student's pages cut out of the upload's) loses the old numbers.
_STAMP = NameObject("/ReportgenStamp")


def _stream(data: bytes) -> DecodedStreamObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    stream[_STAMP] = BooleanObject(True)
    return stream


def number_pages(writer: PdfWriter) -> None:
    """Stamp "page N of M" on every page, replacing any number stamped before.

    The PDF is put together from documents rendered apart (chunks, the class page, pieces), so
    xhtml2pdf's own page numbers restarted in each; here the numbers are one small content
    stream added to each page (the page's own content is not parsed), in Helvetica, which
    every reader has: no font is embedded for it.
    """
    font = writer._add_object(DictionaryObject({  # pypdf's way to add an object; no public one
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))
    opening = writer._add_object(_stream(b"q\n"))
    total = len(writer.pages)
    for number, page in enumerate(writer.pages, start=1):
        contents = page.get(PG.CONTENTS)
        streams = contents.get_object() if contents is not None else ArrayObject()
        if not isinstance(streams, ArrayObject):
            streams = ArrayObject([contents])
        kept = [ref for ref in streams if not ref.get_object().get(_STAMP)]
        text = f"page {number} of {total}"
        left = PAGE_NUMBER_RIGHT - pdfmetrics.stringWidth(text, "Helvetica", 7)
        stamp = (f"Q q 0.396 0.427 0.463 rg BT {PAGE_NUMBER_FONT} 7 Tf {left:.2f} {PAGE_NUMBER_BASELINE} Td "
                 f"({text}) Tj ET Q\n").encode("ascii")
        page[NameObject(PG.CONTENTS)] = ArrayObject([opening, *kept, writer._add_object(_stream(stamp))])
        resources = page[PG.RESOURCES].get_object()
        if "/Font" not in resources:
            resources[NameObject("/Font")] = DictionaryObject()
        resources["/Font"].get_object()[PAGE_NUMBER_FONT] = font


def _uri(annotation) -> str:
    action = annotation.get_object().get("/A")
    return str(action.get("/URI", "")) if action is not None else ""


def resolve_links(writer: PdfWriter) -> None:
    """Turn links to ``#name`` (the class table's to ``#student-N``) into links to the page
    where :class:`reportgen.render.pdf_tables.Destination` marked ``name``, which may lie in another
    part of the document than the link; the marks go, and so do links to no mark (a student
    that failed)."""
    pages = [page for page in writer.pages if page.get("/Annots") is not None]
    targets = {}
    for page in pages:
        for annotation in page["/Annots"].get_object():
            uri = _uri(annotation)
            if uri.startswith(pdf_tables.DESTINATION_SCHEME):
                targets.setdefault(uri.removeprefix(pdf_tables.DESTINATION_SCHEME), page.indirect_reference)
    for page in pages:
        kept = ArrayObject()
        for annotation in page["/Annots"].get_object():
            uri = _uri(annotation)
            if uri.startswith("#"):
                if uri[1:] not in targets:
                    continue
                link = annotation.get_object()
                del link[NameObject("/A")]
                link[NameObject("/Dest")] = ArrayObject([targets[uri[1:]], NameObject("/Fit")])
            elif uri.startswith(pdf_tables.DESTINATION_SCHEME):
                continue
            kept.append(annotation)
        page[NameObject("/Annots")] = kept


def _write(writer: PdfWriter, title: str) -> bytes:
    writer.add_metadata({"/Title": title, "/Producer": "reportgen (xhtml2pdf, pypdf)"})
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def extract_pages(pdf: bytes | PdfReader, first: int, count: int, title: str) -> bytes:
    """Pages ``first`` … ``first + count - 1`` of ``pdf`` (bytes, or a reader of them) as a PDF
    of their own, numbered "page 1 of ``count``" on."""
    reader = pdf if isinstance(pdf, PdfReader) else open_pdf(pdf)
    writer = PdfWriter()
    for index in range(first, first + count):
        writer.add_page(reader.pages[index])
    resolve_links(writer)
    number_pages(writer)
    return _write(writer, title)


class Merged(NamedTuple):
    """A merged PDF, where each of its parts starts in it and how many pages it has."""

    content: bytes
    starts: list[int]
    pages: int


def merge_pdfs(parts: Sequence[bytes], title: str) -> bytes:
    """:func:`merge_parts`' document alone."""
    return merge_parts(parts, title).content


def merge_parts(parts: Iterable[bytes], title: str, head: Callable[[], bytes] | None = None) -> Merged:
    """Concatenate PDF parts with their bookmarks, without re-rendering them, and finish the
    document: links resolved, pages numbered. Each part's first page is counted as it is
    appended, so the students' places in the whole follow from their places in their chunk's
    part, without reading the finished document's bookmarks again (1.2 s for 4,033 pages).
    ``head`` gives a document to put before the parts, asked for once they are in: one made
    meanwhile (:mod:`.beside`) is waited for as late as can be.

    Parts are whole chunks of students (tens of pages each), so their repeated font subsets
    are few; folding identical objects together keeps the file small at little cost.
    """
    with _fewer_collections():
        writer = PdfWriter()
        starts = []
        for part in parts:
            starts.append(len(writer.pages))
            writer.append(io.BytesIO(part), import_outline=True)
        if head is not None:
            before = len(writer.pages)
            _put_first(writer, head())
            starts = [start + len(writer.pages) - before for start in starts]
        writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
        resolve_links(writer)
        number_pages(writer)
        writer.page_mode = "/UseOutlines"
        return Merged(_write(writer, title), starts, len(writer.pages))


def _put_first(writer: PdfWriter, document: bytes) -> None:
    """Insert ``document``'s pages before the writer's, and its bookmarks before the writer's:
    pypdf adds them after, and its ``before`` finds only the last bookmark, so the two runs
    of the outline's linked list are swapped here."""
    root = writer.get_outline_root()
    first = root.raw_get("/First") if "/First" in root else None
    last = root.raw_get("/Last") if first is not None else None
    writer.merge(0, io.BytesIO(document), import_outline=True)
    if first is None or root.raw_get("/Last") == last:
        return
    added_first, added_last = last.get_object().raw_get("/Next"), root.raw_get("/Last")
    del last.get_object()["/Next"]
    del added_first.get_object()["/Prev"]
    added_last.get_object()[NameObject("/Next")] = first
    first.get_object()[NameObject("/Prev")] = added_last
    root[NameObject("/First")], root[NameObject("/Last")] = added_first, last
