"""Render report data as a standalone HTML page or as a PDF, from one Jinja template family.

The PDF is built by xhtml2pdf one student at a time and merged with pypdf: an overview
document (when there is more than one student) followed by one document per student,
each with a bookmark. Progress is real, and xhtml2pdf only ever holds one student.

Layout for speed (measured with ``bench/render_bench.py``): xhtml2pdf spends about 1 ms
per table cell, and a single table grows faster than linearly. So the PDF lists events
as aligned monospace lines (:func:`event_listing`) in paragraphs of ``PDF_LINES_PER_BAND``
lines, about 0.7 ms per event, linear; the legend and overview stay tables, cut into
tables of ``PDF_ROWS_PER_TABLE`` rows; the sequence is one short paragraph per slice.
The HTML page uses ordinary tables throughout.

xhtml2pdf may read nothing but files under ``static/``: :func:`link_callback` maps every
URL the markup names to a file there or refuses it, and a resource policy that forbids
the network and any other directory backs it up.
"""
from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import jinja2
from pypdf import PdfWriter
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from .domain.report_data import ReportData, StudentReport

ROOT_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT_DIR / "templates"
STATIC_DIR = ROOT_DIR / "static"
DOCUMENT_TEMPLATE = "report/document.html"

#: Rows per legend and overview table in the PDF.
PDF_ROWS_PER_TABLE = 50
#: Event lines per shaded band of the PDF's event listing.
PDF_LINES_PER_BAND = 10
#: Columns of the event listing are padded with no-break spaces (xhtml2pdf collapses others).
NBSP = "\u00a0"
LISTING_GAP = NBSP + " "
#: Longer event types are not padded, so one odd type does not widen every line.
MAX_TYPE_WIDTH = 16

Progress = Callable[[int, int], None]

#: What xhtml2pdf may fetch: no network at all, local files only below ``static/``.
_RESOURCE_POLICY = ResourceAccessPolicy(allow_remote=False, base_dir=STATIC_DIR)


class RenderError(Exception):
    """xhtml2pdf reported errors while building a PDF."""


class EventListing(NamedTuple):
    """A student's events as plain-text lines whose columns line up in a monospace font."""

    header: str
    lines: list[str]


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = NBSP * max(0, width - len(text))
    return fill + text if right else text + fill


def event_listing(student: StudentReport) -> EventListing:
    """Columns ``# time label type unit``: fixed widths first, the free-length unit last."""
    header = ("#", "Time", "Label", "Type", "Unit")
    rows = [
        (str(event.position), event.time, event.label, event.type or "—", event.unit)
        for event in student.events
    ]
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(4)]
    widths[3] = min(widths[3], MAX_TYPE_WIDTH)

    def line(cells: tuple[str, ...]) -> str:
        position, *middle, unit = cells
        padded = [_pad(position, widths[0], right=True)]
        padded += [_pad(text, width) for text, width in zip(middle, widths[1:])]
        return LISTING_GAP.join([*padded, unit])

    return EventListing(header=line(header), lines=[line(row) for row in rows])


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
    environment.globals["event_listing"] = event_listing
    return environment


def _render_document(
    report: ReportData,
    *,
    pdf: bool,
    overview: bool,
    sections: Sequence[StudentReport],
    first_section: int = 1,
    document_title: str | None = None,
    footer_label: str = "",
) -> str:
    return report_environment().get_template(DOCUMENT_TEMPLATE).render(
        report=report,
        pdf=pdf,
        overview=overview,
        sections=sections,
        first_section=first_section,
        rows_per_table=PDF_ROWS_PER_TABLE if pdf else sys.maxsize,
        lines_per_band=PDF_LINES_PER_BAND,
        document_title=document_title or report.title,
        footer_label=footer_label,
    )


def render_html(report: ReportData) -> str:
    """The whole report as one self-contained HTML document (inline CSS, no external resources)."""
    return _render_document(
        report, pdf=False, overview=len(report.students) > 1, sections=report.students,
    )


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


def html_to_pdf(html: str) -> bytes:
    """Convert one HTML document with xhtml2pdf, locked to ``static/``; RenderError on errors."""
    output = io.BytesIO()
    status = pisa.CreatePDF(
        html,
        dest=output,
        encoding="utf-8",
        link_callback=_pisa_link_callback,
        resource_policy=_RESOURCE_POLICY,
    )
    if status.err:
        problems = "; ".join(
            str(message) for mode, _line, message, _fragment in status.log if mode == "error"
        )
        raise RenderError(f"xhtml2pdf reported {status.err} error(s): {problems or 'no details'}")
    return output.getvalue()


def render_overview_pdf(report: ReportData) -> bytes:
    """The overview table of a report as a PDF of its own (the first part of a merged report)."""
    return html_to_pdf(
        _render_document(report, pdf=True, overview=True, sections=(), footer_label="Overview")
    )


def render_student_pdf(report: ReportData, index: int) -> bytes:
    """The section of the report's student at ``index`` as a PDF of its own."""
    student = report.students[index]
    title = report.title if len(report.students) == 1 else f"{report.title} — {student.student_id}"
    return html_to_pdf(
        _render_document(
            report, pdf=True, overview=False, sections=(student,), first_section=index + 1,
            document_title=title, footer_label=student.student_id,
        )
    )


def merge_pdfs(parts: Sequence[tuple[str, bytes]], title: str) -> bytes:
    """Concatenate PDF parts, each with a bookmark, without re-rendering them.

    Every part embeds its own subsets of the same fonts, mostly identical; merging them
    into shared objects makes a 19-student report about a quarter of the size.
    """
    writer = PdfWriter()
    for bookmark, part in parts:
        writer.append(io.BytesIO(part), outline_item=bookmark, import_outline=False)
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    writer.add_metadata({"/Title": title, "/Producer": "reportgen (xhtml2pdf, pypdf)"})
    writer.page_mode = "/UseOutlines"
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def render_pdf(report: ReportData, progress: Progress | None = None) -> bytes:
    """The whole report as one PDF: overview (for several students), then a part per student.

    ``progress(done, total)`` is called after each student's part is rendered.
    """
    total = len(report.students)
    parts = [("Overview", render_overview_pdf(report))] if total > 1 else []
    for index, student in enumerate(report.students):
        parts.append((student.student_id, render_student_pdf(report, index)))
        if progress is not None:
            progress(index + 1, total)
    return merge_pdfs(parts, report.title)
