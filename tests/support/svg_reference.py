"""Our charts drawn twice, to compare: by svglib (an SVG renderer of its own) from the SVG the HTML
page shows, and by the PDF's chart flowable (:mod:`reportgen.render.pdf_charts`) from the marks.

svglib draws a text element in one face and neither joins Arabic nor orders right-to-left text
(browsers do both), so each text is first split into an element per run of one face in visual
order (:func:`reportgen.render.fonts.visual_runs`), and every family is registered with svglib
as its own face in ``static/fonts`` (fontconfig would find the system's).
"""
from __future__ import annotations

import functools
import re
from html import escape, unescape
from io import BytesIO

from reportlab.pdfgen.canvas import Canvas

from reportgen.render import fonts
from reportgen.render.charts import Chart
from reportgen.render.pdf_charts import ChartFlowable, markup

_TEXT_ELEMENT = re.compile(r'<text x="([-\d.]+)" (y="[-\d.]+" font-size="([\d.]+)" fill="[^"]*"'
                           r'(?: font-weight="bold")?) text-anchor="(\w+)" font-family="[^"]*">([^<]*)</text>')


@functools.cache
def _register_faces() -> None:
    from svglib.fonts import register_font

    faces = (*fonts.PRIMARY_FACES, *fonts.FALLBACK_FACES)
    with_bold = {face.family for face in faces if face.bold}
    for face in faces:
        name = fonts.pdf_name(face)
        weights = ("bold",) if face.bold else ("normal",) if face.family in with_bold else ("normal", "bold")
        for weight in weights:
            register_font(face.family, str(fonts.STATIC_DIR / face.url), weight=weight, rlgFontName=name)


def _runs(match: re.Match) -> str:
    x, common, size, anchor, content = match.groups()
    runs = fonts.visual_runs(unescape(content), 'font-weight="bold"' in common)
    if len(runs) <= 1:
        family, drawn = (runs[0][0].family, escape(runs[0][1])) if runs else ("DejaVu Sans", "")
        return f'<text x="{x}" {common} text-anchor="{anchor}" font-family="{family}">{drawn}</text>'
    widths = [fonts.run_width(face, run, float(size)) for face, run in runs]
    left = float(x) - (sum(widths) if anchor == "end" else sum(widths) / 2 if anchor == "middle" else 0)
    parts = []
    for (face, run), width in zip(runs, widths):
        parts.append(f'<text x="{left:.1f}" {common} font-family="{face.family}">{escape(run)}</text>')
        left += width
    return "".join(parts)


def svglib_drawing(chart: Chart):
    """The chart's SVG as svglib draws it (a ReportLab drawing sized in pixels, 0.75 pt)."""
    from svglib.svglib import svg2rlg

    _register_faces()
    return svg2rlg(BytesIO(_TEXT_ELEMENT.sub(_runs, chart.svg).encode("utf-8")))


def flowable_pdf(chart: Chart) -> bytes:
    """A one-page PDF of the chart's size with the chart as the report's PDF draws it."""
    flowable = ChartFlowable.from_json(re.search(r'data-chart="([^"]*)"', markup(chart))[1])
    output = BytesIO()
    canvas = Canvas(output, pagesize=(chart.width, chart.height))
    flowable.drawOn(canvas, 0, 0)
    canvas.save()
    return output.getvalue()
