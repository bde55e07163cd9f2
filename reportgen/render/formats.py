"""The report formats, in one place: every caller (API, form, CLI, jobs, email, downloads)
asks this registry what a format is called, how it is served and how it is rendered.

The rendering side (:mod:`reportgen.render.documents`) is imported only when a document is made,
so the web process does not load xhtml2pdf to answer a status request.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True, slots=True)
class ReportFormat:
    name: str
    label: str
    content_type: str
    inline: bool
    renderer: str
    """The class in :mod:`reportgen.render.documents` that renders this format."""
    paged: bool = False
    """A printed document: rendered a chunk at a time as one file (students' pages are cut
    from it), drawn with the fonts in ``static/fonts`` (so characters they lack are warned
    about), and the one format whose size grows with the ``event_log`` option."""

    def weighs_events(self, event_log: bool) -> bool:
        """Whether a chunk's cost grows with its events (see :func:`domain.batching.plan_chunks`)."""
        return self.paged and event_log

    @property
    def mimetype(self) -> str:
        return self.content_type.split(";")[0]

    @property
    def disposition(self) -> str:
        return "inline" if self.inline else "attachment"

    @property
    def documents(self):
        """The renderer: ``render_chunk``, ``combine`` and ``student_document``."""
        return getattr(import_module("reportgen.render.documents"), self.renderer)


FORMATS: dict[str, ReportFormat] = {
    fmt.name: fmt
    for fmt in (
        ReportFormat("html", "HTML", "text/html; charset=utf-8", inline=True, renderer="HtmlDocuments"),
        ReportFormat("pdf", "PDF", "application/pdf", inline=False, renderer="PdfDocuments", paged=True),
        ReportFormat("csv", "CSV", "text/csv; charset=utf-8", inline=False, renderer="CsvDocuments"),
    )
}
NAMES = tuple(FORMATS)


def in_format_order(reports) -> list:
    """Reports (anything with ``format`` and ``id``) in the registry's order of their formats,
    an unknown format last: how an upload's reports are listed on its page and in its email."""
    return sorted(reports, key=lambda report: (NAMES.index(report.format) if report.format in FORMATS else len(NAMES),
                                               report.id))


def get(name: str) -> ReportFormat:
    """The format called ``name``; ``KeyError`` if there is none."""
    return FORMATS[name]
