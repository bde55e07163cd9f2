"""The report's charts drawn straight onto the PDF's canvas, one flowable a chart.

The charts were SVG images in the PDF: the template wrote each as a base64 ``data:`` URI, and
xhtml2pdf decoded it, a reader of ours turned its elements into ReportLab shapes and ReportLab's
renderer drew those. A period report's student has two charts (activity and timeline): drawn here
instead, a 50-student chunk of the one-month bench class renders in 0.68-0.72 s instead of 0.81-0.87
s (in process, the two trees alternating), and in ``bench/history_report_bench.py`` the worker CPU
fell by 10-32% (BENCHMARKS.md). Here the template writes the chart's marks
(:class:`reportgen.render.charts.Text` and ``Boxes``) as ``<pdf:chart data-chart="…">``
(:func:`markup`), and :class:`ChartFlowable` draws them: a path of rectangles a fill, and each text
in its own faces and direction (:func:`reportgen.render.fonts.visual_runs`, as the tables' cells).
The HTML page draws the same marks as inline SVG (:attr:`reportgen.render.charts.Chart.svg`);
``tests/unit/test_report_scripts.py`` checks that both draw them alike.

A chart taller than a page (the timeline of a student with hundreds of units: 13 pt a unit)
goes on over as many pages as it needs, cut between its texts; as an image, xhtml2pdf had shrunk
it to the page's height, a sliver nobody could read.
"""
from __future__ import annotations

import base64
import functools
import json

from markupsafe import Markup
from reportlab.lib.colors import HexColor
from reportlab.platypus import Flowable

from .charts import Chart, Text
from .fonts import run_width, visual_runs
from .pdf_tables import FRAME_HEIGHT, draw_runs

#: The space above and below a chart (the margins its image had).
SPACE = 2.0
#: The least room worth starting a chart taller than a page in: less, and it starts on the next.
LEAST_PIECE = 40.0
#: How far a text reaches above and below its baseline, in its size.
ASCENT, DESCENT = 1.0, 0.3


@functools.lru_cache(maxsize=64)
def _color(value: str) -> HexColor:
    return HexColor(value)


def markup(chart: Chart) -> Markup:
    """The tag the template writes where ``chart`` goes; its caption, the paragraph after it,
    stays on the chart's page."""
    marks = [[1, *mark] if isinstance(mark, Text) else [0, mark.fill, [value for box in mark.boxes for value in box]]
             for mark in chart.marks]
    data = {"w": chart.width, "h": chart.height, "m": marks}
    # base64, as the tables' tags: quotes escaped as character references cost html5lib a call each
    text = base64.b64encode(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()).decode("ascii")
    return Markup(f'<pdf:chart data-chart="{text}"></pdf:chart>')


class ChartFlowable(Flowable):
    """One chart's marks, drawn in order at the chart's size, kept with what follows (its caption)."""

    def __init__(self, width: float, height: float, marks: list):
        super().__init__()
        self.width, self.height, self.marks = width, height, marks
        self.spaceBefore = self.spaceAfter = SPACE
        self.keepWithNext = True
        self.moved = False  # to a frame of its own, having not fitted the one before

    @classmethod
    def from_json(cls, text: str) -> ChartFlowable:
        data = json.loads(base64.b64decode(text))
        return cls(data["w"], data["h"], data["m"])

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def split(self, available_width, available_height):
        """A chart that fits a page moves whole to the next; a taller one (or one that did not fit
        the next frame either) is cut at the lowest point in ``available_height`` that no text
        crosses, and goes on below."""
        if available_height < LEAST_PIECE or self.height <= FRAME_HEIGHT and not self.moved:
            self.moved = True
            return []
        cut = available_height
        spans = [(mark[2] - ASCENT * mark[4], mark[2] + DESCENT * mark[4]) for mark in self.marks if mark[0]]
        while crossing := [top for top, bottom in spans if top < cut < bottom]:
            cut = min(crossing)
        if cut <= 0:
            return []
        first, rest = ChartFlowable(self.width, cut, _slice(self.marks, 0, cut)), \
            ChartFlowable(self.width, self.height - cut, _slice(self.marks, cut, self.height))
        first.spaceAfter = rest.spaceBefore = 0.0
        first.keepWithNext = False
        return [first, rest]

    def draw(self):
        canvas, top = self.canv, self.height
        canvas.saveState()
        for mark in self.marks:
            if mark[0]:
                self._text(top, *mark[1:])
                continue
            values = mark[2]
            path = canvas.beginPath()
            for index in range(0, len(values), 4):
                x, y, width, height = values[index:index + 4]
                path.rect(x, top - y - height, width, height)
            canvas.setFillColor(_color(mark[1]))
            canvas.drawPath(path, stroke=0, fill=1)
        canvas.restoreState()

    def _text(self, top: float, x: float, y: float, content: str, size: float, fill: str, anchor: str,
              bold: bool) -> None:
        runs = visual_runs(content, bold)
        widths = [run_width(face, run, size) for face, run in runs]
        left = x - (sum(widths) if anchor == "end" else sum(widths) / 2 if anchor == "middle" else 0.0)
        text = self.canv.beginText()
        text.setFillColor(_color(fill))
        draw_runs(text, runs, widths, left, top - y, size)
        self.canv.drawText(text)


def _slice(marks: list, top: float, bottom: float) -> list:
    """The marks between ``top`` and ``bottom``, moved up by ``top``: a text by its baseline, the
    part of each rectangle inside."""
    kept = []
    for mark in marks:
        if mark[0]:
            if top <= mark[2] < bottom:
                kept.append([1, mark[1], mark[2] - top, *mark[3:]])
            continue
        boxes = []
        values = mark[2]
        for index in range(0, len(values), 4):
            x, y, width, height = values[index:index + 4]
            upper, lower = max(min(y, y + height), top), min(max(y, y + height), bottom)
            if upper < lower:
                boxes += [x, upper - top, width, lower - upper]
        if boxes:
            kept.append([0, mark[1], boxes])
    return kept


def install() -> None:
    """Teach xhtml2pdf the ``<pdf:chart>`` tag (as :func:`reportgen.render.pdf_tables.install`)."""
    from xhtml2pdf import parser
    from xhtml2pdf.tags import pisaTag

    class ChartTag(pisaTag):
        def start(self, c):
            c.addPara()
            c.addStory(ChartFlowable.from_json(self.node.getAttribute("data-chart")))

    parser.pisaTagPDFCHART = ChartTag
