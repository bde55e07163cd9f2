"""The PDF draws every script the API accepts, from the fonts shipped in static/fonts/."""
from __future__ import annotations

import io
import logging
import subprocess
import sys
import unicodedata
from pathlib import Path

import pdfplumber
import pytest

from reportgen.render import fonts
from reportgen.render.html_pdf import STATIC_DIR, html_to_pdf

ROOT = Path(__file__).resolve().parents[2]

#: One name per script, and the font that must draw it (subset prefix left off).
SAMPLES = {
    "Zoë": "DejaVuSans",
    "Ωμέγα": "DejaVuSans",
    "Дмитрий": "DejaVuSans",
    "محمد": "DejaVuSans",
    "דוד": "DejaVuSans",
    "देवनागरी": "NotoSansDevanagari-Regular",
    "王小明": "DroidSansFallback",
    "さくら": "DroidSansFallback",
    "김민준": "DroidSansFallback",
    "สมชาย": "NotoSansThai-Regular",
}
RTL = {"محمد", "דוד"}
#: What bold text is drawn in: DejaVu and Noto Devanagari have bold faces, Droid has not.
BOLD = {"DejaVuSans": "DejaVuSans-Bold", "NotoSansDevanagari-Regular": "NotoSansDevanagari-Bold",
        "NotoSansThai-Regular": "NotoSansThai-Bold"}


def _document(body: str) -> str:
    css = (
        f"body {{ font-family: {fonts.BODY_FAMILIES}; font-size: 12pt; }}\n"
    )
    html = f"<html><head><style>/* fonts */\n{css}</style></head><body>{body}</body></html>"
    return html.replace("/* fonts */", fonts.font_face_css(html))


def _lines(pdf: bytes) -> list[list[dict]]:
    """The page's characters, one list per baseline from the top, left to right as drawn."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        chars = document.pages[0].chars
    lines: dict[float, list[dict]] = {}
    for char in chars:  # by baseline: fonts' ascents differ, so char tops and bottoms do
        lines.setdefault(round(char["matrix"][5]), []).append(char)
    return [sorted(line, key=lambda char: char["x0"]) for _, line in sorted(lines.items(), reverse=True)]


def _text(line: list[dict]) -> str:
    return "".join(char["text"] for char in line)


def _font(char: dict) -> str:
    return char["fontname"].partition("+")[2]


def _no_glyph_warnings(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "No font this document has can draw" in r.getMessage()]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[list[dict]]]:
    """Per sample its regular and its bold line; under "mixed" a line of two fallback faces."""
    paragraphs = "".join(f"<p>{name}</p><p><b>{name}</b></p>" for name in SAMPLES)
    lines = _lines(html_to_pdf(_document(paragraphs + "<p>王小明 देवनागरी</p>")))
    assert len(lines) == 2 * len(SAMPLES) + 1
    return {name: lines[2 * index: 2 * index + 2] for index, name in enumerate(SAMPLES)} | {
        "mixed": lines[-1:]
    }


@pytest.mark.parametrize("name", SAMPLES)
def test_every_script_comes_back_out_in_its_font(rendered, name):
    regular, bold = rendered[name]
    for line, font in ((regular, SAMPLES[name]), (bold, BOLD.get(SAMPLES[name], SAMPLES[name]))):
        drawn = _text(line)
        if name in RTL:
            # Drawn right to left: the extraction is in visual order, Arabic joined into
            # presentation forms (initial, medial, final), which NFKC maps back.
            assert unicodedata.normalize("NFKC", drawn)[::-1] == name
        else:
            assert unicodedata.normalize("NFKC", drawn) == name
        assert {_font(char) for char in line} == {font}


def test_arabic_is_shaped_and_right_to_left(rendered):
    for line in rendered["محمد"]:  # final dal, medial meem, medial hah, initial meem
        assert _text(line) == "\ufeaa\ufee4\ufea4\ufee3"
    for line in rendered["דוד"]:
        assert _text(line) == "דוד"[::-1]


def test_a_line_falls_back_character_by_character(rendered):
    [listing] = rendered["mixed"]
    assert _text(listing) == "王小明 देवनागरी"
    assert {_font(char) for char in listing} == {"DroidSansFallback", "NotoSansDevanagari-Regular"}


def test_missing_glyphs():
    assert fonts.missing_glyphs(" ".join(SAMPLES) + " عائشہ \u2067محمد\u2069\n") == set()
    # An emoji none of the fonts has, a private-use and an unassigned code point.
    assert fonts.missing_glyphs("Zoë 🚀 \ue000 \u0378 王") == {"🚀", "\ue000", "\u0378"}


def test_xhtml2pdf_agrees_and_says_so_through_logging(caplog):
    with caplog.at_level(logging.WARNING, logger="xhtml2pdf"):
        html_to_pdf(_document("<p>" + " ".join(SAMPLES) + "</p>"))
        assert _no_glyph_warnings(caplog.records) == []
        html_to_pdf(_document("<p>Zoë 🚀 王</p>"))
    # The character is only in the logged message: status.log holds the unformatted text.
    [warning] = _no_glyph_warnings(caplog.records)
    assert "(U+1F680)" in warning


def test_fallback_faces_are_declared_only_when_the_text_needs_them():
    primary = fonts.font_face_css("")
    assert fonts.font_face_css("Zoë Ωμέγα Дмитрий محمد דוד — 12:00") == primary
    assert "DroidSansFallback.ttf" in fonts.font_face_css("<p>王小明</p>")
    assert "Devanagari" not in fonts.font_face_css("<p>王小明</p>")
    assert "NotoSansArabic" in fonts.font_face_css("عائشہ")  # Urdu heh goal: DejaVu has none
    everything = fonts.font_face_css(None)
    for face in (*fonts.PRIMARY_FACES, *fonts.FALLBACK_FACES):
        assert (STATIC_DIR / face.url).is_file()
        assert f'url("{face.url}")' in everything


#: Run in a process of its own: once a document has declared the faces, xhtml2pdf has
#: registered them itself, and a warm-up would have nothing left to do.
WARM_UP_CHECK = """
import xhtml2pdf.context
from reportgen.render import fonts
from reportgen.render.html_pdf import html_to_pdf
from tests.unit.test_fonts import SAMPLES, _document
fonts.warm_up()
parsed = []
class CountingTTFont(xhtml2pdf.context.TTFont):
    def __init__(self, *args, **kwargs):
        parsed.append(args[0])
        super().__init__(*args, **kwargs)
xhtml2pdf.context.TTFont = CountingTTFont
html_to_pdf(_document("<p>" + " ".join(SAMPLES) + " <b>देवनागरी</b> عائشہ</p>"))
print(parsed)
"""


def test_warm_up_leaves_xhtml2pdf_nothing_to_parse():
    """xhtml2pdf takes the faces warm_up registered (its names) rather than parsing its own."""
    result = subprocess.run(
        [sys.executable, "-c", WARM_UP_CHECK], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=True,
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_text_outside_paragraphs_is_drawn_in_runs_of_one_face_each_in_visual_order():
    def runs(text: str) -> list[tuple[str, str]]:
        return [(face.family, run) for face, run in fonts.visual_runs(text)]

    assert runs("Week 3 — Zoë, Дмитрий") == [("DejaVu Sans", "Week 3 — Zoë, Дмитрий")]
    assert runs("Q2 · 王小明") == [("DejaVu Sans", "Q2 · "), ("Droid Sans Fallback", "王小明")]
    assert runs("देवनागरी") == [("Noto Sans Devanagari", "देवनागरी")]
    assert runs("สมชาย") == [("Noto Sans Thai", "สมชาย")]
    # Joined (final dal, medial meem, medial hah, initial meem), then right to left.
    assert runs("Q3 · محمد") == [("DejaVu Sans", "Q3 · \ufeaa\ufee4\ufea4\ufee3")]
    assert runs("דוד 12") == [("DejaVu Sans", "12 דוד")]  # a cell of its own direction


