"""The report's own SVG charts as ReportLab drawings, read without svglib.

svglib (which xhtml2pdf uses for SVG images) parses a chart with minidom, a CSS cascade and
shlex, about 0.3 ms per element: a student's timeline cost more than a third of the
student's page. Our charts use a small fixed subset of SVG that :mod:`reportgen.render.charts`
writes (texts with a position, size, fill, weight, anchor and one face; paths of rectangles
with a fill), and reading that back with two regular expressions is a fraction of the
cost (``bench/report_bench.py``). An SVG with anything else in it (another element, another
path command, a family no face is registered for) is left to svglib, so a chart drawn with
more of SVG is still right, only slower; ``tests/unit/test_report_scripts.py`` checks that both
draw our charts alike.
"""
from __future__ import annotations

import functools
import html
import re

from reportlab.graphics.shapes import Drawing, Path, String
from reportlab.lib.colors import HexColor

from .fonts import chart_face_name

_SVG = re.compile(r'<svg xmlns="http://www.w3.org/2000/svg" width="([\d.]+)" height="([\d.]+)" '
                  r'viewBox="0 0 \1 \2" role="img">(.*)</svg>', re.S)
_ELEMENT = re.compile(r'<text ([^>]*)>([^<]*)</text>|<path d="([^"]*)" fill="(#[0-9a-fA-F]{6})"/>'
                      r'|<title>[^<]*</title>|<desc>[^<]*</desc>')
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
_RECT = re.compile(r"M([-\d.]+) ([-\d.]+)h([-\d.]+)v([-\d.]+)h([-\d.]+)z")
_TEXT_ATTRIBUTES = frozenset(("x", "y", "font-size", "fill", "font-weight", "text-anchor", "font-family"))


class NotOurs(ValueError):
    """The SVG uses more than the subset read here."""


@functools.lru_cache(maxsize=64)
def _color(value: str) -> HexColor:
    return HexColor(value)


def _text(attributes: str, content: str, height: float) -> String:
    values = dict(_ATTRIBUTE.findall(attributes))
    if not _TEXT_ATTRIBUTES.issuperset(values):
        raise NotOurs(f"text attributes {sorted(values)}")
    font = chart_face_name(values.get("font-family", ""), values.get("font-weight") == "bold")
    if font is None:
        raise NotOurs(f"font family {values.get('font-family')!r}")
    return String(float(values["x"]), height - float(values["y"]), html.unescape(content), fontName=font,
                  fontSize=float(values["font-size"]), fillColor=_color(values.get("fill", "#000000")),
                  textAnchor=values.get("text-anchor", "start"))


def _path(data: str, fill: str, height: float) -> Path:
    path = Path(fillColor=_color(fill), strokeColor=None, strokeWidth=0)
    end = 0
    for match in _RECT.finditer(data):
        if match.start() != end:
            raise NotOurs("a path command other than a rectangle")
        end = match.end()
        x, y, width, rect_height, back = (float(value) for value in match.groups())
        if back != -width:
            raise NotOurs("a path that is not a rectangle")
        top = height - y
        path.moveTo(x, top)
        path.lineTo(x + width, top)
        path.lineTo(x + width, top - rect_height)
        path.lineTo(x, top - rect_height)
        path.closePath()
    if end != len(data):
        raise NotOurs("a path command other than a rectangle")
    return path


def drawing(svg: bytes) -> Drawing | None:
    """The drawing of one of our charts, at its own size; None when ``svg`` is not in the subset."""
    try:
        match = _SVG.fullmatch(svg.decode("utf-8"))
        if match is None:
            return None
        width, height, body = float(match[1]), float(match[2]), match[3]
        result = Drawing(width, height)
        end = 0
        for element in _ELEMENT.finditer(body):
            if element.start() != end:
                return None
            end = element.end()
            text_attributes, content, path_data, fill = element.groups()
            if text_attributes is not None:
                result.add(_text(text_attributes, content, height))
            elif path_data is not None:
                result.add(_path(path_data, fill, height))
        return result if end == len(body) else None
    except (NotOurs, UnicodeDecodeError, ValueError):
        return None
