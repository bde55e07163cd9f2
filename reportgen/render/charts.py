"""Charts made on the server: inline SVG in the HTML report, drawn onto the page in the PDF.

No JavaScript and nothing fetched: each chart is one small list of marks (:class:`Text`, and
:class:`Boxes`: rectangles of one fill), which :attr:`Chart.svg` writes as a self-contained
``<svg>`` with a ``<title>`` and ``<desc>`` (the report puts a table with the same facts beside
it for screen readers; every text is escaped there) and
:mod:`reportgen.render.pdf_tables`' chart flowable draws straight onto the PDF's canvas.

Drawn for speed in the PDF: marks of one kind are one path of many rectangles, and the only
separate marks are the few texts (:mod:`reportgen.render.pdf_charts` says what drawing them
directly saved).
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape
from typing import NamedTuple

from ..domain.figures import UTC, format_duration
from ..domain.report_data import HeatRow, UnitLine, VisitMark
from .fonts import text_width

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


def _round(value: float) -> float:
    """A chart's coordinates to a tenth of a point: finer than a page shows, and short to write."""
    return round(value, 1)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class Text(NamedTuple):
    """A text mark: its baseline starts, centres or ends (``anchor``) at ``x``, ``y`` from the top left."""

    x: float
    y: float
    text: str
    size: float
    fill: str
    anchor: str
    bold: bool


class Boxes(NamedTuple):
    """Rectangles of one fill, each ``(x, y, width, height)`` from the top left."""

    fill: str
    boxes: tuple[tuple[float, float, float, float], ...]


Mark = Text | Boxes


#: Browsers draw a chart's text with the page's fonts, each character from the first that has it.
SCREEN_FAMILIES = 'system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, DejaVu Sans, sans-serif'


def _svg_text(mark: Text) -> str:
    bold = ' font-weight="bold"' if mark.bold else ""
    return (f'<text x="{_num(mark.x)}" y="{_num(mark.y)}" font-size="{_num(mark.size)}" fill="{mark.fill}"{bold} '
            f'text-anchor="{mark.anchor}" font-family="{SCREEN_FAMILIES}">{escape(mark.text)}</text>')


def _svg_boxes(mark: Boxes) -> str:
    data = "".join(f"M{_num(x)} {_num(y)}h{_num(width)}v{_num(height)}h{_num(-width)}z"
                   for x, y, width, height in mark.boxes)
    return f'<path d="{data}" fill="{mark.fill}"/>'


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart's marks and what a reader without the picture needs."""

    marks: tuple[Mark, ...]
    title: str
    description: str
    width: float
    height: float

    @property
    def svg(self) -> str:
        """The chart as an ``<svg>`` element for the HTML page."""
        body = "".join(_svg_text(mark) if isinstance(mark, Text) else _svg_boxes(mark) for mark in self.marks)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(self.width)}" height="{_num(self.height)}" '
                f'viewBox="0 0 {_num(self.width)} {_num(self.height)}" role="img">'
                f"<title>{escape(self.title)}</title><desc>{escape(self.description)}</desc>{body}</svg>")


def _text(x: float, y: float, text: str, *, size: float = 7, fill: str = INK, anchor: str = "start",
          weight: str = "normal") -> Text:
    return Text(_round(x), _round(y), text, _round(size), fill, anchor, weight == "bold")


def _rect(x: float, y: float, width: float, height: float) -> tuple[float, float, float, float]:
    return _round(x), _round(y), _round(width), _round(height)


def _path(parts: list[tuple[float, float, float, float]], fill: str) -> Boxes | None:
    return Boxes(fill, tuple(parts)) if parts else None


def _chart(width: float, height: float, title: str, description: str, body: list[Mark | None]) -> Chart:
    return Chart(tuple(mark for mark in body if mark is not None), title, description, width, height)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def merge_spans(spans: list[tuple[float, float]], gap: float = 0.25) -> list[tuple[float, float]]:
    """Bars of one row that overlap or nearly touch, drawn as one: the page cannot show them
    apart, and a student with 200,000 visits would otherwise be a chart of 200,000 shapes in
    the page's SVG and the PDF (when the PDF's charts were SVG images, svglib took seconds and
    hundreds of MB over them)."""
    merged: list[tuple[float, float]] = []
    for x0, x1 in sorted(spans):
        if merged and x0 <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], x1))
        else:
            merged.append((x0, x1))
    return merged


#: Steps a timeline's axis may take, shortest first: minutes and hours, then days and weeks.
AXIS_STEPS = tuple(timedelta(minutes=m) for m in (1, 5, 10, 15, 30, 60, 120, 180, 360, 720)) + tuple(
    timedelta(days=d) for d in (1, 2, 7, 14, 28, 56, 91, 182, 364))
#: At most this many ticks on a timeline's axis, and labels on them.
AXIS_TICKS = 6
AXIS_LABELS = 3


def _first_tick(start: datetime, step: timedelta, where: tzinfo) -> datetime:
    """The first whole ``step`` at or after ``start`` in ``where``: a local midnight for steps of
    days (and a Monday for weeks), a whole hour or minute for shorter ones."""
    local = start.astimezone(where)
    if step >= timedelta(days=1):
        tick = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if step >= timedelta(days=7):
            tick -= timedelta(days=tick.weekday())
    else:
        minutes = int(step.total_seconds() // 60)
        tick = local.replace(minute=(local.minute // minutes) * minutes if minutes < 60 else 0, second=0,
                             microsecond=0)
        if minutes > 60:
            tick = tick.replace(hour=(local.hour // (minutes // 60)) * (minutes // 60))
    while tick < local:
        tick = _advance(tick, step, where)
    return tick


def _advance(tick: datetime, step: timedelta, where: tzinfo) -> datetime:
    """``tick`` + ``step`` on the wall clock of ``where`` (a day stays a calendar day across a
    change of summer time)."""
    if step >= timedelta(days=1):
        naive = tick.replace(tzinfo=None) + step
        return naive.replace(tzinfo=where) if where is not UTC else naive.replace(tzinfo=UTC)
    return (tick.astimezone(UTC) + step).astimezone(where)


def axis_ticks(start: datetime, end: datetime, where: tzinfo = UTC,
               labels: int = AXIS_LABELS) -> list[tuple[datetime, str | None]]:
    """The ticks of a time axis from ``start`` to ``end`` (at most :data:`AXIS_TICKS`), each with
    its label or None: ``labels`` of them are labelled (evenly, the first and the last when 2),
    ``Jul 21`` for a whole day, else ``Jul 21 14:00`` where the day changes and ``16:00``
    where it does not."""
    span = end - start
    if span <= timedelta(0):
        return []
    step = next((step for step in AXIS_STEPS if span / step <= AXIS_TICKS), None)
    if step is None:
        return []
    ticks, tick = [], _first_tick(start, step, where)
    while tick <= end and len(ticks) < AXIS_TICKS:
        ticks.append(tick)
        tick = _advance(tick, step, where)
    if labels == 2:
        chosen = {0, len(ticks) - 1}
    else:
        chosen = set(range(0, len(ticks), max(1, -(-len(ticks) // labels))))
    years = ticks[0].astimezone(where).year != ticks[-1].astimezone(where).year
    labelled, day = [], None
    for index, tick in enumerate(ticks):
        if index not in chosen:
            labelled.append((tick, None))
            continue
        local = tick.astimezone(where)
        date_text = f"{local.strftime('%b')} {local.day}" + (f", {local.year}" if years else "")
        if local.hour == local.minute == 0:
            text = date_text
        elif local.date() == day:
            text = local.strftime("%H:%M")
        else:
            text = f"{date_text} {local.strftime('%H:%M')}"
        day = local.date()
        labelled.append((tick, text))
    return labelled


def timeline(rows: list[str], visits: Sequence[VisitMark], title: str, description: str, zoom: float = 1.0,
             width: float = WIDTH, where: tzinfo = UTC) -> Chart:
    """Units down the side (``rows``, e.g. ``"Q2 · 17"``), time across from the first visit
    to the last, one bar per stretch of work: blue on a first visit to a unit, red on a return
    to it; a visit breaks where the student was idle longer than the idle cutoff (its
    ``spans``). Under the plot, a dated axis in ``where``: ticks at whole days (or hours) and
    labels on at most :data:`AXIS_LABELS` of them. The report prints the key beside the chart.
    ``zoom`` enlarges the text and rows and ``width`` narrows the chart for screens
    (:data:`SCREEN_ZOOM`, :data:`SCREEN_WIDTH`); the label column is as wide as the longest
    label needs, up to :data:`LABEL_WIDTH` zoomed."""
    top, row_height = 2.0, ROW * zoom
    axis = 12.0 * zoom if visits else 3.0
    plot_top = top + row_height * max(1, len(rows))
    height = plot_top + axis
    labels = [shorten(row, LABEL_CHARS) for row in rows]
    plot_left = min(LABEL_WIDTH * zoom, max((text_width(label, 7 * zoom) for label in labels), default=0) + 8 * zoom)
    plot_width = width - plot_left - 4
    body = []
    for index, label in enumerate(labels):
        body.append(_text(2, top + row_height * index + 9.2 * zoom, label, size=7 * zoom))
    timed = visits
    if timed:
        start = min(visit.start for visit in timed)
        end = max(visit.end for visit in timed)
        span = (end - start).total_seconds()
        scale = plot_width / span if span > 0 else 0.0

        def place(moment: datetime) -> float:
            return plot_left + (moment - start).total_seconds() * scale if span > 0 else plot_left + plot_width / 2

        bars: dict[tuple[bool, int], list[tuple[float, float]]] = {}
        for visit in timed:
            for first, last in visit.spans or ((visit.start, visit.end),):
                width = max(MIN_MARK, (last - first).total_seconds() * scale)
                x = min(place(first), plot_left + plot_width - width)
                bars.setdefault((visit.returned, visit.row), []).append((x, x + width))
        marks: dict[bool, list[str]] = {False: [], True: []}
        for (returned, row), spans in bars.items():
            for x0, x1 in merge_spans(spans):
                marks[returned].append(_rect(x0, top + row_height * row + 2.5 * zoom, x1 - x0, row_height - 5 * zoom))
        lines = [_rect(plot_left, top + row_height * index + row_height - 0.5, plot_width, 0.4)
                 for index in range(len(rows))]  # a hairline under each unit's row
        ticks = axis_ticks(start, end, where)
        lines += [_rect(place(tick) - 0.2, plot_top, 0.4, 3 * zoom) for tick, _ in ticks]
        body.append(_path(lines, LINE))
        body.append(_path(marks[False], FIRST_VISIT))
        body.append(_path(marks[True], RETURN_VISIT))
        for tick, text in ticks:
            if text is None:
                continue
            x = place(tick)
            anchor = "start" if x < plot_left + 30 * zoom else "end" if x > plot_left + plot_width - 30 * zoom \
                else "middle"
            body.append(_text(x, plot_top + 10 * zoom, text, size=6.5 * zoom, fill=MUTED, anchor=anchor))
    return _chart(width, height, title, description, body)


#: The heat map's shades, from a little time to the most (a cell the student reached with no
#: time on it is :data:`NO_TIME`, one never reached is left empty).
HEAT_SHADES = ("#dbeafe", "#93c5fd", "#3b82f6", "#1d4ed8", "#172554")
NO_TIME = "#eef1f4"
#: The tallest a heat map's rows may be, and the shortest before students are left out.
HEAT_ROW = 9.0
HEAT_MIN_ROW = 1.6
#: The height a heat map's rows may take together (points; a page's text frame is 752).
HEAT_HEIGHT = 560.0


def heat_bounds(values: Sequence[int]) -> tuple[int, ...]:
    """Where each shade of :data:`HEAT_SHADES` ends: the 20th, 40th, 60th and 80th percentiles
    of the times above zero (rounded to whole minutes, at least a minute apart)."""
    ordered = sorted(value for value in values if value > 0)
    if not ordered:
        return ()
    bounds: list[int] = []
    for share in (0.2, 0.4, 0.6, 0.8):
        value = ordered[min(len(ordered) - 1, int(share * len(ordered)))]
        minute = max(60, round(value / 60) * 60)
        if not bounds or minute > bounds[-1]:
            bounds.append(minute)
    return tuple(bounds)


def heat_legend(bounds: Sequence[int]) -> list[tuple[str, str]]:
    """``(colour, "under 5 min")`` per shade in use, for the caption beside the chart."""
    if not bounds:
        return []
    names = [f"under {format_duration(bounds[0])}"]
    names += [f"{format_duration(low)}–{format_duration(high)}" for low, high in zip(bounds, bounds[1:])]
    names.append(f"{format_duration(bounds[-1])} or more")
    return list(zip(HEAT_SHADES[len(HEAT_SHADES) - len(names):], names))


def heatmap(units: Sequence[UnitLine], rows: Sequence[HeatRow], title: str, description: str,
            bounds: Sequence[int], *, width: float = WIDTH, font: float = 7.0, row_labels: int = 40) -> Chart:
    """Students down the side (``#number``), units across, each cell shaded by the student's
    time on the unit. One ``<path>`` per shade, so the cost is the texts: the unit labels
    across the top and a student label on every row that has room, at most ``row_labels``
    of them (every few rows in a large class). Rows shrink to fit :data:`HEAT_HEIGHT`, down to :data:`HEAT_MIN_ROW` (the
    caller cuts a class too large for that and says so)."""
    shown = list(rows)
    label_width = font * 3.4
    head = font * 1.6
    row = max(HEAT_MIN_ROW, min(HEAT_ROW * font / 7, HEAT_HEIGHT / max(1, len(shown))))
    column = (width - label_width - 2) / max(1, len(units))
    height = head + row * len(shown) + 2
    body = []
    label_every = max(1, math.ceil(font * 1.3 / row), math.ceil(len(shown) / row_labels))
    for index, heat_row in enumerate(shown):
        if index % label_every == 0:
            body.append(_text(label_width - 3, head + row * index + min(row, font * 1.3) * 0.75,
                              f"#{heat_row.number}", size=font * 0.9, fill=MUTED, anchor="end"))
    label_step = max(1, math.ceil(font * 2.2 / column))
    for index, unit in enumerate(units):
        if index % label_step == 0:
            body.append(_text(label_width + column * (index + 0.5), head - font * 0.45, unit.label,
                              size=font * 0.9, fill=INK, anchor="middle"))
    cells: dict[str, list[str]] = {}
    for index, heat_row in enumerate(shown):
        y = head + row * index
        for column_index, seconds in enumerate(heat_row.seconds):
            if seconds is None:
                continue
            colour = NO_TIME if seconds <= 0 else HEAT_SHADES[
                len(HEAT_SHADES) - len(bounds) - 1 + bisect_right(bounds, seconds)] if bounds else HEAT_SHADES[-1]
            cells.setdefault(colour, []).append(
                _rect(label_width + column * column_index + 0.3, y + 0.15, max(0.4, column - 0.6),
                      max(0.4, row - 0.3)))
    body.append(_path([_rect(label_width, head, width - label_width - 2, row * len(shown))], "#fbfcfd"))
    for colour in (NO_TIME, *HEAT_SHADES):
        body.append(_path(cells.get(colour, []), colour))
    return _chart(width, height, title, description, body)


def units_chart(units: Sequence[UnitLine], title: str, description: str, *, width: float = WIDTH,
                font: float = 7.0) -> Chart:
    """Per unit a row: a bar of its median time on task (blue, scaled to the longest) and, at
    the right, a bar of the share of its students who came back to it (red, 0–100%). The
    hardest unit's label is bold. Texts: a label per unit and two headings."""
    row = font * 1.45
    label_width = font * 4.2
    gap = font * 1.5
    returned_width = (width - label_width - gap) * 0.32
    time_width = width - label_width - gap - returned_width - 2
    head = font * 1.8
    height = head + row * len(units) + 2
    longest = max((unit.median_seconds for unit in units), default=0) or 1
    body = [
        _text(label_width, head - font * 0.6, f"Median time (0–{format_duration(longest)})",
              size=font * 0.9, fill=MUTED),
        _text(label_width + time_width + gap, head - font * 0.6, "Came back", size=font * 0.9, fill=MUTED),
    ]
    times, returns, tracks = [], [], []
    for index, unit in enumerate(units):
        y = head + row * index
        body.append(_text(label_width - 3, y + row * 0.68, unit.label, size=font,
                          weight="bold" if unit.hardest else "normal", anchor="end"))
        bar = row * 0.6
        times.append(_rect(label_width, y + (row - bar) / 2, max(0.6, time_width * unit.median_seconds / longest), bar))
        left = label_width + time_width + gap
        tracks.append(_rect(left, y + (row - bar) / 2, returned_width, bar))
        returns.append(_rect(left, y + (row - bar) / 2, max(0.0, returned_width * unit.returned_share), bar))
    body += [_path(tracks, "#f3f4f6"), _path(times, FIRST_VISIT), _path(returns, RETURN_VISIT)]
    return _chart(width, height, title, description, body)


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
    return _chart(width, height, title, description, body)


@dataclass(frozen=True, slots=True)
class ActivityPanel:
    """One measure of an activity chart: a bar per day or week, and a reference per bucket
    (the class median beside a student; none on the class's own chart)."""

    name: str
    values: Sequence[float]
    reference: Sequence[float] = ()
    format_value: object = _num


def activity(starts: Sequence[str], per: str, panels: Sequence[ActivityPanel], title: str, description: str, *,
             zoom: float = 1.0, width: float = WIDTH) -> Chart:
    """Activity over time: per panel a bar per day or week (blue) across the whole width and,
    where the panel has one, its reference as a dark tick over each bucket; under the panels the
    first, middle and last bucket's date. Texts: a heading per panel (name and scale) and three
    dates, so a PDF's student page gains about five texts however long the period (the table it
    replaces had five rows of up to 106 cells: two thirds of the sample PDF's cost)."""
    font = 7.0 * zoom
    head = font * 1.5
    plot = 26.0 * zoom
    gap = font * 0.9
    plot_left, plot_width = 1.0, width - 3.0
    column = plot_width / max(1, len(starts))
    body, bars, ticks, lines = [], [], [], []
    top = 1.0
    for panel in panels:
        high = max([*panel.values, *panel.reference, 0]) or 1
        body.append(_text(plot_left, top + font, f"{panel.name} per {per} (0–{panel.format_value(high)})",
                          size=font, weight="bold"))
        base = top + head + plot
        for index, value in enumerate(panel.values):
            if value > 0:
                tall = max(0.8, plot * value / high)
                bars.append(_rect(plot_left + column * (index + 0.15), base - tall, max(0.6, column * 0.7), tall))
        for index, value in enumerate(panel.reference):
            if value > 0:
                ticks.append(_rect(plot_left + column * index, base - plot * value / high - 0.6 * zoom, column,
                                   1.2 * zoom))
        lines.append(_rect(plot_left, base, plot_width, 0.5))
        top = base + gap
    body += [_path(lines, LINE), _path(bars, FIRST_VISIT), _path(ticks, INK)]
    axis = top - gap + font * 1.4
    if starts:
        shown = {0: "start", len(starts) - 1: "end"}
        if len(starts) > 4:
            shown[len(starts) // 2] = "middle"
        for index, anchor in sorted(shown.items()):
            x = plot_left + column * index + (column if anchor == "end" else column / 2 if anchor == "middle" else 0)
            label = starts[index] if per == "day" else f"week of {starts[index]}"
            body.append(_text(x, axis, label, size=font * 0.93, fill=MUTED, anchor=anchor))
    return _chart(width, axis + font * 0.5, title, description, body)
