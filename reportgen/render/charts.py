"""Charts as SVG text, made on the server: inline in the HTML report, an image in the PDF.

No JavaScript and nothing fetched: each chart is one small self-contained ``<svg>`` with a
``<title>`` and ``<desc>`` (the report puts a table with the same facts beside it for screen
readers). Every text is escaped here, because the SVG also travels as a ``data:`` URI into
xhtml2pdf, outside Jinja's autoescaping.

Drawn for speed in the PDF: svglib (which xhtml2pdf uses for SVG) costs about 0.3 ms per
element and reads every image twice, so marks of one kind are one ``<path>`` of many
sub-paths, and the only separate elements are the few texts.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape, unescape

from ..domain.report_data import VisitMark
from .fonts import run_width, text_width, visual_runs

INK = "#1f2328"
MUTED = "#656d76"
LINE = "#d0d7de"
FIRST_VISIT = "#0969da"
RETURN_VISIT = "#d1242f"
BAND = "#ddf4ff"
MEDIAN = "#0550ae"
DOT = "#57606a"

WIDTH = 510.0
#: Charts on a screen: narrower and with larger text, so that scaled to a phone's width (390 px,
#: about 350 px inside the page's margins) their smallest text is 11 px, and to the 28rem the
#: page gives them at most on a desktop, 15 px, the body text's size.
SCREEN_WIDTH = 340.0
SCREEN_ZOOM = 1.9
ROW = 13.0
LABEL_WIDTH = 128.0
LABEL_CHARS = 22
MIN_MARK = 2.5


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart and what a reader without the picture needs."""

    svg: str
    title: str
    description: str
    width: float
    height: float

    @property
    def data_uri(self) -> str:
        """The chart as a ``data:`` URI for xhtml2pdf (base64: a third of percent-encoding's
        length), its texts drawn as svglib can (:func:`for_svglib`)."""
        svg = for_svglib(self.svg)
        return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


#: Browsers draw a chart's text with the page's fonts, each character from the first that has it.
SCREEN_FAMILIES = 'system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, DejaVu Sans, sans-serif'
#: One text element as :func:`_text` writes it, read back by :func:`for_svglib`.
_TEXT_ELEMENT = re.compile(r'<text x="([-\d.]+)" (y="[-\d.]+" font-size="([\d.]+)" fill="[^"]*"'
                           r'(?: font-weight="bold")?) text-anchor="(\w+)" font-family="[^"]*">([^<]*)</text>')


def _text(x: float, y: float, text: str, *, size: float = 7, fill: str = INK, anchor: str = "start",
          weight: str = "normal") -> str:
    bold = ' font-weight="bold"' if weight == "bold" else ""
    return (f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" fill="{fill}"{bold} '
            f'text-anchor="{anchor}" font-family="{SCREEN_FAMILIES}">{escape(text)}</text>')


def _svglib_text(match: re.Match) -> str:
    """One text element of a chart as svglib draws it right: an element per run of one face, in
    visual order (:func:`reportgen.render.fonts.visual_runs`). svglib draws an element in a single
    face and neither joins Arabic nor orders right-to-left text, which browsers do themselves."""
    x, common, size, anchor, content = match.groups()
    bold = 'font-weight="bold"' in common
    runs = visual_runs(unescape(content), bold)
    if len(runs) <= 1:
        family, drawn = (runs[0][0].family, escape(runs[0][1])) if runs else ("DejaVu Sans", "")
        return f'<text x="{x}" {common} text-anchor="{anchor}" font-family="{family}">{drawn}</text>'
    widths = [run_width(face, run, float(size)) for face, run in runs]
    left = float(x) - (sum(widths) if anchor == "end" else sum(widths) / 2 if anchor == "middle" else 0)
    parts = []
    for (face, run), width in zip(runs, widths):
        parts.append(f'<text x="{_num(left)}" {common} font-family="{face.family}">{escape(run)}</text>')
        left += width
    return "".join(parts)


def for_svglib(svg: str) -> str:
    """``svg`` with its texts rewritten for svglib (the PDF); a plain-ASCII chart as it is but
    for the face named."""
    return _TEXT_ELEMENT.sub(_svglib_text, svg)


def _rect(x: float, y: float, width: float, height: float) -> str:
    return f"M{_num(x)} {_num(y)}h{_num(width)}v{_num(height)}h{_num(-width)}z"


def _path(parts: list[str], fill: str) -> str:
    return f'<path d="{"".join(parts)}" fill="{fill}"/>' if parts else ""


def _svg(width: float, height: float, title: str, description: str, body: list[str]) -> Chart:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>{''.join(body)}</svg>"
    )
    return Chart(svg=svg, title=title, description=description, width=width, height=height)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def merge_spans(spans: list[tuple[float, float]], gap: float = 0.25) -> list[tuple[float, float]]:
    """Bars of one row that overlap or nearly touch, drawn as one: the page cannot show them
    apart, and a student with 200,000 visits would otherwise be a chart of 200,000 shapes
    (svglib takes seconds and hundreds of MB over them)."""
    merged: list[tuple[float, float]] = []
    for x0, x1 in sorted(spans):
        if merged and x0 <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], x1))
        else:
            merged.append((x0, x1))
    return merged


def timeline(rows: list[str], visits: Sequence[VisitMark], title: str, description: str, zoom: float = 1.0,
             width: float = WIDTH) -> Chart:
    """Units down the side (``rows``, e.g. ``"Q2 · 17"``), time across from the first visit
    to the last, one bar per visit: blue for a first visit to a unit, red for a return to it.
    The report prints the key and the time span beside the chart, which saves svglib four
    texts per chart. ``zoom`` enlarges the text and rows and ``width`` narrows the chart for
    screens (:data:`SCREEN_ZOOM`, :data:`SCREEN_WIDTH`); the label column is as wide as the
    longest label needs, up to :data:`LABEL_WIDTH` zoomed."""
    top, axis, row_height = 2.0, 3.0, ROW * zoom
    height = top + row_height * max(1, len(rows)) + axis
    labels = [shorten(row, LABEL_CHARS) for row in rows]
    plot_left = min(LABEL_WIDTH * zoom, max((text_width(label, 7 * zoom) for label in labels), default=0) + 8 * zoom)
    plot_width = width - plot_left - 4
    body = []
    for index, label in enumerate(labels):
        body.append(_text(2, top + row_height * index + 9.2 * zoom, label, size=7 * zoom))
    timed = visits
    if timed:
        start = min(visit.start for visit in timed)
        span = (max(visit.end for visit in timed) - start).total_seconds()
        scale = plot_width / span if span > 0 else 0.0
        bars: dict[tuple[bool, int], list[tuple[float, float]]] = {}
        for visit in timed:
            x = plot_left + (visit.start - start).total_seconds() * scale if span > 0 else plot_left + plot_width / 2
            length = max(MIN_MARK, (visit.end - visit.start).total_seconds() * scale)
            x = min(x, plot_left + plot_width - length)
            bars.setdefault((visit.returned, visit.row), []).append((x, x + length))
        marks: dict[bool, list[str]] = {False: [], True: []}
        for (returned, row), spans in bars.items():
            for x0, x1 in merge_spans(spans):
                marks[returned].append(_rect(x0, top + row_height * row + 2.5 * zoom, x1 - x0, row_height - 5 * zoom))
        body.append(_path([_rect(plot_left, top + row_height * index + row_height - 0.5, plot_width, 0.4)
                           for index in range(len(rows))], LINE))  # a hairline under each unit's row
        body.append(_path(marks[False], FIRST_VISIT))
        body.append(_path(marks[True], RETURN_VISIT))
    return _svg(width, height, title, description, body)


@dataclass(frozen=True, slots=True)
class Strip:
    """One measure across a class: every student's value, the 15th–85th band and the median."""

    name: str
    values: tuple[float, ...]
    p15: float
    median: float
    p85: float
    unit_text: str


def distribution(strips: list[Strip], title: str, description: str,
                 format_value=lambda value: _num(value), zoom: float = 1.0, width: float = WIDTH) -> Chart:
    """One row per measure: a dot per student, the middle 70% shaded, the median marked. On a
    chart narrower than :data:`WIDTH` (a screen's) each measure's words go above its strip, which
    then spans the width."""
    stacked = width < WIDTH
    head = 14.0 * zoom if stacked else 0.0
    row = head + (30.0 if stacked else 26.0) * zoom
    height = row * len(strips) + 4
    plot_left = 2.0 if stacked else 96.0 * zoom
    plot_width = width - plot_left - (4.0 if stacked else 52 * zoom)
    body = []
    for index, strip in enumerate(strips):
        top = index * row + 4
        y = top + head  # the strip's top
        if stacked:
            body.append(_text(plot_left, top + 9 * zoom, f"{strip.name} ({strip.unit_text})", weight="bold",
                              size=6.5 * zoom))
            body.append(_text(plot_left + plot_width, top + 9 * zoom, f"median {format_value(strip.median)}",
                              fill=MEDIAN, size=6 * zoom, anchor="end"))
        else:
            body.append(_text(0, y + 11 * zoom, strip.name, weight="bold", size=7 * zoom))
            body.append(_text(0, y + 20 * zoom, strip.unit_text, fill=MUTED, size=6.5 * zoom))
        high = max([*strip.values, strip.p85, 1.0])
        scale = plot_width / high
        body.append(_path([_rect(plot_left + strip.p15 * scale, y + 2, max(1.0, (strip.p85 - strip.p15) * scale), 14)], BAND))
        body.append(_path([_rect(plot_left, y + 16, plot_width, 0.6)], MUTED))
        dots = [_rect(plot_left + value * scale - 1.2, y + 7.8, 2.4, 2.4) for value in strip.values]
        body.append(_path(dots, DOT))
        body.append(_path([_rect(plot_left + strip.median * scale - 0.6, y + 1, 1.2, 16)], MEDIAN))
        scale_y = y + 17 + 6.5 * zoom
        body.append(_text(plot_left, scale_y, "0", fill=MUTED, size=6 * zoom))
        body.append(_text(plot_left + plot_width, scale_y, format_value(high), fill=MUTED, size=6 * zoom, anchor="end"))
        if not stacked:
            body.append(_text(plot_left + plot_width + 4, y + 11, f"median {format_value(strip.median)}",
                              fill=MEDIAN, size=6 * zoom))
    return _svg(width, height, title, description, body)
