"""The report formats, in one place: every caller (API, form, CLI, jobs, email, downloads)
asks this registry what a format is called and how it is served. How each is rendered is
:func:`reportgen.render.documents.of`'s answer; this module imports nothing of ours.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReportFormat:
    name: str
    label: str
    content_type: str
    inline: bool
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


FORMATS: dict[str, ReportFormat] = {
    fmt.name: fmt
    for fmt in (
        ReportFormat("html", "HTML", "text/html; charset=utf-8", inline=True),
        ReportFormat("pdf", "PDF", "application/pdf", inline=False, paged=True),
        ReportFormat("csv", "CSV", "text/csv; charset=utf-8", inline=False),
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
