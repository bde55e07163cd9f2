"""The PDF's fonts: DejaVu first, then fallback faces for the scripts DejaVu cannot draw.

DejaVu Sans draws Latin, Greek, Cyrillic, Hebrew and Arabic (Persian included), but no
Devanagari, Chinese, Japanese, Korean or Thai, which came out as empty boxes. xhtml2pdf 0.2.28
matches a CSS font-family list per character (the first family with a glyph draws it),
so a list with fallback families after DejaVu is the fix: :data:`BODY_FAMILIES`, with the
``@font-face`` rules from :func:`font_face_css`. Every
file is shipped in ``static/fonts/`` (see its README.md); nothing depends on system fonts.

Cost, measured on a one-paragraph document (13 ms with DejaVu alone): xhtml2pdf parses a
face once per process (declaring every fallback adds 125 ms to the first document, 60 ms
of it the 3.4 MB CJK face) but reads and hashes every ``@font-face`` file on every
document, which adds 7 ms to each later one. Hence:

* :func:`font_face_css` given the document's text declares a fallback face only when the
  text has a character that needs it, so a document DejaVu can draw costs what it did;
* :func:`warm_up` parses and registers every face once, under the names xhtml2pdf gives
  ``@font-face`` faces (``"<family>_<bold><italic>"``), which xhtml2pdf then uses as they
  are: called in the worker before it forks, no work horse parses a font again.

The same parsed faces answer :func:`missing_glyphs` (what none of them can draw), and
:func:`visual_runs` (text as drawn: joined, in visual order, one face per run) serves what
xhtml2pdf's paragraphs do not lay out: the PDF's tables (:mod:`reportgen.render.pdf_tables`) and
charts (:mod:`reportgen.render.pdf_charts`).

Devanagari and Thai need shaping: a conjunct is one glyph (क्ष), the vowel sign ि is drawn before
the consonant it follows, Thai marks stack. xhtml2pdf has no shaper and ReportLab 5.1 shapes
(HarfBuzz, through uharfbuzz) only when asked, which xhtml2pdf's paragraphs never do. So the
faces of :data:`SHAPED_FAMILIES` are a :class:`ShapingFont`, whose widths are the shaped ones
(every width, ours and xhtml2pdf's, is asked of the font), and :func:`_draw_shaped` has
ReportLab draw their text shaped, wherever it comes from: headings, paragraphs, tables, charts.
Copied out, a shaped run is its ``/ActualText`` (pdftotext, viewers); the font's ToUnicode
map names the glyphs without a character (:meth:`ShapingFont.name_private_glyphs`) for
extractors that read only that (pdfminer). Shaping a run costs about 75 µs, once per process
(cached); text in other faces is drawn as before, so a Latin report costs what it did.
"""
from __future__ import annotations

import functools
import unicodedata
from pathlib import Path
from typing import NamedTuple

import arabic_reshaper
from reportlab.lib.abag import ABag
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, ShapedStr, TTFont, makeToUnicodeCMap, shapeFragWord
from reportlab.pdfgen.textobject import PDFTextObject
from xhtml2pdf.bidi import get_display, needs_bidi

from ..config import ROOT_DIR

STATIC_DIR = ROOT_DIR / "static"


class Face(NamedTuple):
    """One font file, as a ``@font-face`` rule declares it."""

    family: str
    url: str  # relative to static/, which is what the renderer's link_callback resolves
    bold: bool = False

    @property
    def pdf_name(self) -> str:
        """The name xhtml2pdf 0.2.28 registers a ``@font-face`` face under."""
        return f"{self.family.lower()}_{int(self.bold)}0"

    @property
    def rule(self) -> str:
        weight = " font-weight: bold;" if self.bold else ""
        return f'@font-face {{ font-family: "{self.family}"; src: url("{self.url}");{weight} }}'


#: Declared for every document: DejaVu draws nearly everything the reports contain.
PRIMARY_FACES = (
    Face("DejaVu Sans", "fonts/DejaVuSans.ttf"),
    Face("DejaVu Sans", "fonts/DejaVuSans-Bold.ttf", bold=True),
)
#: In fallback order. A family without a bold face is drawn from its regular face in bold
#: text too (xhtml2pdf maps the missing weights of a family to the face it has).
#: Noto Sans Arabic only adds what DejaVu lacks: Urdu letters (ے ہ), Quranic marks.
FALLBACK_FACES = (
    Face("Noto Sans Arabic", "fonts/NotoSansArabic-Regular.ttf"),
    Face("Noto Sans Devanagari", "fonts/NotoSansDevanagari-Regular.ttf"),
    Face("Noto Sans Devanagari", "fonts/NotoSansDevanagari-Bold.ttf", bold=True),
    Face("Droid Sans Fallback", "fonts/DroidSansFallback.ttf"),
    Face("Noto Sans Thai", "fonts/NotoSansThai-Regular.ttf"),
    Face("Noto Sans Thai", "fonts/NotoSansThai-Bold.ttf", bold=True),
)
FALLBACK_FAMILIES = tuple(dict.fromkeys(face.family for face in FALLBACK_FACES))
#: The scripts whose letters take their form and place from their neighbours (conjuncts, a vowel
#: sign drawn before its consonant, stacked marks): their faces' text is shaped by HarfBuzz.
SHAPED_FAMILIES = frozenset(("Noto Sans Devanagari", "Noto Sans Thai"))


def _family_list(*families: str) -> str:
    return ", ".join(f'"{family}"' for family in families)


#: ``font-family`` for all text.
BODY_FAMILIES = _family_list("DejaVu Sans", *FALLBACK_FAMILIES)

#: Bidi controls: xhtml2pdf uses them to order a line and draws none of them.
_NOT_DRAWN = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@functools.lru_cache(maxsize=8192)
def _shape(font_name: str, text: str) -> tuple[str, float]:
    """``text`` as HarfBuzz shapes it in the font: what to draw (a ReportLab ``ShapedStr`` of
    glyphs and their positions, or ``text`` itself when shaping changes nothing) and its width
    at 1 pt. Shaping does not depend on the size (the fonts have no optical sizes), so one
    result serves every size. Cached: the same names and units recur on every page."""
    font = pdfmetrics.getFont(font_name)
    if not font.face.charToGlyph.keys() >= set(map(ord, text)):
        return text, TTFont.stringWidth(font, text, 1.0)  # HarfBuzz would draw its blanks as .notdef
    word = shapeFragWord([0.0, (ABag(fontName=font_name, fontSize=10.0), text)])
    drawn = word[1][1]
    if isinstance(drawn, ShapedStr):
        if isinstance(font, ShapingFont):
            font.name_private_glyphs(text, drawn)
        return drawn, sum(glyph.x_advance for glyph in drawn.__shapeData__) / 1000
    return text, TTFont.stringWidth(font, text, 1.0)


def _private(char: str) -> bool:
    """A code ReportLab gave a glyph no character maps to (a conjunct, a mark's variant)."""
    return "\ue000" <= char <= "\uf8ff"


#: Devanagari's vowel sign I, drawn before the consonant it follows, and the reph (ra and
#: virama before a consonant), drawn after the syllable: where HarfBuzz moves a character.
_PRE_BASE = "\u093f"
_REPH = "\u0930\u094d"


class ShapingFont(TTFont):
    """A face of :data:`SHAPED_FAMILIES`: its text is measured as HarfBuzz shapes it.

    ReportLab 5.1 shapes with HarfBuzz (uharfbuzz) but only when asked, and xhtml2pdf's
    paragraphs never ask; every width, ours and xhtml2pdf's, is asked of the font, so here
    it is the shaped one, and :func:`_draw_shaped` draws what was measured.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: What each of ReportLab's private codes for a glyph stands for, written: see
        #: :meth:`name_private_glyphs`.
        self.written: dict[int, str] = {}

    def name_private_glyphs(self, text: str, drawn: ShapedStr) -> None:
        """Learn what the private codes in ``drawn`` (``text`` shaped) stand for in ``text``.

        ReportLab draws a glyph without a character of its own (क्ष, त्र, the Thai marks'
        raised forms) under a private-use code, and the font's ToUnicode map would copy
        that code out. Per HarfBuzz cluster (the glyphs drawn for a run of characters), the
        glyphs with a character of their own take theirs; a lone private glyph takes the
        rest; with two, the vowel sign I (moved before its consonant) is the first and a
        reph (moved after the syllable) the last. The first reading of a glyph stays.
        """
        data = drawn.__shapeData__
        starts = sorted({glyph.cluster for glyph in data})
        ends = dict(zip(starts, [*starts[1:], len(text)]))
        clusters: dict[int, list[str]] = {}
        for char, glyph in zip(drawn, data):
            clusters.setdefault(glyph.cluster, []).append(char)
        for start, glyphs in clusters.items():
            private = [char for char in glyphs if _private(char)]
            if not private or all(ord(char) in self.written for char in private):
                continue
            rest = text[start:ends.get(start, len(text))]
            for char in glyphs:
                if not _private(char):
                    rest = rest.replace(char, "", 1)
            named: dict[str, str] = {}
            if len(private) > 1 and private[0] == glyphs[0] and _PRE_BASE in rest:
                named[private.pop(0)] = _PRE_BASE
                rest = rest.replace(_PRE_BASE, "", 1)
            if len(private) > 1 and private[-1] == glyphs[-1] and rest.startswith(_REPH):
                named[private.pop()] = _REPH
                rest = rest[len(_REPH):]
            if len(private) == 1 and rest:
                named[private[0]] = rest
            for char, written in named.items():
                self.written.setdefault(ord(char), written)

    def addObjects(self, doc):  # noqa: N802 (ReportLab's name)
        """ReportLab's font objects, their ToUnicode maps copying private codes out as written."""
        state = self.state.get(doc)
        super().addObjects(doc)
        if state is None or not self.written:
            return
        for number, subset in enumerate(state.subsets):
            if not any(code in self.written for code in subset):
                continue
            base = b"".join((SUBSETN(number), b"+", self.face.name, self.face.subfontNameX)).decode("pdfdoc")
            lines = makeToUnicodeCMap(base, subset).split("\n")
            first = lines.index(f"{len(subset)} beginbfchar") + 1
            for index, code in enumerate(subset):
                if code in self.written:
                    lines[first + index] = f"<{index:02X}> <{self.written[code].encode('utf-16-be').hex().upper()}>"
            doc.idToObject["toUnicodeCMap:" + base].content = "\n".join(lines)

    def stringWidth(self, text, size, encoding="utf8"):  # noqa: N802 (ReportLab's name)
        if isinstance(text, ShapedStr):
            return sum(glyph.x_advance for glyph in text.__shapeData__) * size / 1000
        if not isinstance(text, str) or text.isascii() or not self.shapable:
            return super().stringWidth(text, size, encoding)
        return _shape(self.fontName, text)[1] * size


#: The ReportLab names of the registered :class:`ShapingFont` faces.
_SHAPING_NAMES: set[str] = set()


def _actual_text(text: str) -> str:
    """A PDF text string (UTF-16 with its byte-order mark, in hex) for ``/ActualText``."""
    return "<" + ("\ufeff" + text).encode("utf-16-be").hex().upper() + ">"


@functools.cache
def _draw_shaped() -> None:
    """Make every text ReportLab draws in a :class:`ShapingFont` come out shaped, copying as written.

    Every string drawn, by our tables, by the charts (``Canvas.drawString``) and by
    xhtml2pdf's paragraphs, passes ``PDFTextObject._formatText``, which draws a ``ShapedStr``
    glyph by glyph at HarfBuzz's positions: the text of a shaping face is turned into one
    there. Its glyphs are in visual order and a conjunct has no character of its own, so the
    run is wrapped in a marked-content span whose ``/ActualText`` is the text as written,
    which is what pdftotext and PDF viewers copy out. Text in other faces passes untouched
    (one set lookup), so a report without Devanagari or Thai costs what it did.
    """
    format_text = PDFTextObject._formatText

    @functools.wraps(format_text)
    def formatted(self, text):
        if self._fontname in _SHAPING_NAMES and type(text) is str and not text.isascii():
            drawn = _shape(self._fontname, text)[0]
            if drawn is not text:
                return f"/Span <</ActualText {_actual_text(text)}>> BDC {format_text(self, drawn)} EMC"
        return format_text(self, text)

    PDFTextObject._formatText = formatted


@functools.cache
def _font(face: Face) -> TTFont:
    """The face parsed and registered with ReportLab, once per process.

    Registered before xhtml2pdf meets its ``@font-face`` rule (:func:`font_face_css`,
    :func:`warm_up`), xhtml2pdf draws with it as it is; a face of :data:`SHAPED_FAMILIES`
    is a :class:`ShapingFont`.
    """
    path = STATIC_DIR / face.url
    kind = ShapingFont if face.family in SHAPED_FAMILIES else TTFont
    if face.pdf_name in pdfmetrics.getRegisteredFontNames():  # a document came first
        font = pdfmetrics.getFont(face.pdf_name)
        if type(font) is kind and Path(getattr(font.face, "filename", "")).resolve() == path.resolve():
            return font
    font = kind(face.pdf_name, str(path))
    pdfmetrics.registerFont(font)
    if kind is ShapingFont:
        _SHAPING_NAMES.add(font.fontName)
        _draw_shaped()
    return font


@functools.cache
def _coverage(face: Face) -> frozenset[int]:
    return frozenset(_font(face).face.charToGlyph)


@functools.cache
def _primary_coverage() -> frozenset[int]:
    """What DejaVu draws in regular and bold alike."""
    regular, bold = PRIMARY_FACES
    return _coverage(regular) & _coverage(bold)


def _needs_fallback(text: str) -> set[str]:
    """The characters of ``text`` that DejaVu leaves to a fallback face (or to nothing)."""
    chars = set(text)
    primary = _primary_coverage()
    if primary.issuperset(map(ord, chars)):  # the usual case, one C-level pass
        return set()
    return {c for c in chars if ord(c) not in primary and not c.isspace() and c not in _NOT_DRAWN}


def _fallback_families(text: str) -> set[str]:
    """The fallback families that would draw some character of ``text``."""
    needed: set[str] = set()
    for char in _needs_fallback(text):
        for face in FALLBACK_FACES:
            if ord(char) in _coverage(face):
                needed.add(face.family)
                break
    return needed


def font_face_css(text_sample: str | None = None) -> str:
    """The ``@font-face`` rules for a document whose text is (in) ``text_sample``.

    None declares every face. Markup and CSS may be part of the sample: they are ASCII,
    which DejaVu draws, so the rendered HTML document itself is a fine sample.
    """
    families = set(FALLBACK_FAMILIES) if text_sample is None else _fallback_families(text_sample)
    faces = [*PRIMARY_FACES, *(face for face in FALLBACK_FACES if face.family in families)]
    for face in faces:
        if face.family in SHAPED_FAMILIES:
            _font(face)  # ours, before xhtml2pdf registers a plain TTFont under its name
    return "\n".join(face.rule for face in faces) + "\n"


def missing_glyphs(text: str) -> set[str]:
    """The characters of ``text`` that none of the fonts can draw (they print as boxes).

    Spaces and bidi controls are not drawn and never missing. Checked against every face,
    regular and bold: a character only a regular face has counts as drawable.
    """
    every_face = (*PRIMARY_FACES, *FALLBACK_FACES)
    return {c for c in _needs_fallback(text) if not any(ord(c) in _coverage(f) for f in every_face)}


#: Arabic letters joined without ligatures: the fallback when a face lacks a ligature's form.
_PLAIN_RESHAPER = arabic_reshaper.ArabicReshaper(configuration={"support_ligatures": False})


def _faces(bold: bool) -> tuple[Face, ...]:
    """The faces, in fallback order, that draw regular (or bold) text."""
    regular, bold_face = PRIMARY_FACES
    with_bold = {face.family for face in FALLBACK_FACES if face.bold}
    fallbacks = tuple(face for face in FALLBACK_FACES
                      if face.bold == (bold and face.family in with_bold))
    return ((bold_face if bold else regular), *fallbacks)


def _drawable(text: str, faces: tuple[Face, ...]) -> bool:
    return all(any(ord(c) in _coverage(face) for face in faces) for c in text)


def _shaped(text: str, faces: tuple[Face, ...]) -> str:
    """``text`` with its Arabic letters joined (presentation forms), as far as the faces draw them."""
    shaped = arabic_reshaper.reshape(text)
    if _drawable(shaped, faces):
        return shaped
    plain = _PLAIN_RESHAPER.reshape(text)
    return plain if _drawable(plain, faces) else text


@functools.lru_cache(maxsize=4096)
def visual_runs(text: str, bold: bool = False) -> tuple[tuple[Face, str], ...]:
    """``text`` (logical order, one line) as it is drawn: runs of one face each, left to right.

    What the PDF's tables and the charts draw with, where no xhtml2pdf paragraph does the
    work: Arabic is joined, every run is put in its visual order by the Unicode bidi
    algorithm (xhtml2pdf's, the one its paragraphs use) with the direction of ``text``'s first
    strong character, and each character is drawn by the first face that has it (DejaVu,
    then the fallbacks), so a label mixing Latin with CJK or Devanagari draws both. A
    character no face has stays with DejaVu and prints as its blank; :func:`missing_glyphs`
    names it beforehand. Cached: the same unit names recur on every student's page.
    """
    faces = _faces(bold)
    reordered = not text.isascii() and needs_bidi(text)  # right-to-left letters, or bidi controls
    if text.isascii() or not reordered and not _needs_fallback(text):
        return ((faces[0], text),) if text else ()
    if reordered:
        text = get_display(_shaped(text, faces), None)
    runs: list[tuple[Face, str]] = []
    for char in text:
        if char in _NOT_DRAWN:
            continue
        joins = char.isspace() or unicodedata.category(char).startswith("M")
        if runs and joins and (char.isspace() or ord(char) in _coverage(runs[-1][0])):
            face = runs[-1][0]  # a space or a mark stays with the run before it
        else:
            face = next((face for face in faces if ord(char) in _coverage(face)), faces[0])
        if runs and runs[-1][0] == face:
            runs[-1] = (face, runs[-1][1] + char)
        else:
            runs.append((face, char))
    return tuple(runs)


def run_width(face: Face, run: str, size: float) -> float:
    """How wide one run of :func:`visual_runs` is drawn at ``size`` points."""
    return pdfmetrics.stringWidth(run, _font(face).fontName, size)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """How wide ``text`` is drawn at ``size`` points, runs and fallbacks included."""
    return sum(run_width(face, run, size) for face, run in visual_runs(text, bold))


def pdf_name(face: Face) -> str:
    """The name ReportLab draws ``face`` under, registered on first use."""
    return _font(face).fontName


def warm_up() -> None:
    """Parse and register every face now (about 300 ms), not in the first document.

    Call it in a process that forks workers, before forking: the children inherit the
    parsed faces, which xhtml2pdf finds registered under its own names and does not parse
    again.
    """
    for face in (*PRIMARY_FACES, *FALLBACK_FACES):
        _coverage(face)
