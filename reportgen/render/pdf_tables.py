"""The PDF's tables, drawn cell by cell onto the page by one ReportLab flowable per table.

The tables used to be monospace lines padded with U+FFFC (xhtml2pdf lays out a real table
cell as a paragraph of its own, about 0.3 ms each: seconds for 200 students' unit tables).
That had three faults: copied out of the PDF a row read "￼￼43￼￼" (961 such characters in a
120-student report); a row was one bidi paragraph, so a right-to-left name swallowed the
numbers around it and scrambled the columns; and a script whose glyphs are not one monospace
column wide (CJK, Devanagari, Thai in their fallback faces) pushed the rest of its row out of
line. Here every cell is text of its own at its column's x, drawn with
:func:`reportgen.render.fonts.visual_runs` (its own direction, Arabic joined, a face per script),
numbers right-aligned, the columns as wide as what they hold; copied out, a row is its words
separated by spaces. Drawing a cell costs a few microseconds, so the tables cost less than the
padded lines did (``bench/report_bench.py``).

The template writes ``<pdf:celltable data-table="…">`` (:func:`markup`) where a table goes;
:func:`install` teaches xhtml2pdf that tag, which adds a :class:`CellTable` to the story. A
table longer than the frame splits between rows and repeats its header. A cell can link to a
URI; ``#student-N`` links are turned into links to that student's first page when the
document is finished (:func:`reportgen.render.html_pdf.merge_pdfs`).

The same reasoning drew the other parts that repeat on every page or student: the page footer
(:class:`FooterLine`) and a student's sequence of unit labels (:class:`WrappedText`).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape
from reportlab.lib.colors import HexColor
from reportlab.platypus import Flowable

from .fonts import Face, pdf_name, run_width, text_width, visual_runs

#: The text frame's width and height (templates/report/_pdf.css) and the tables' type.
FRAME_WIDTH = 511.0
FRAME_HEIGHT = 752.0
FONT_SIZE = 7.5
ROW_HEIGHT = 10.5
GAP = 8.0
#: The least a flexible column (a name) keeps when the others are wide.
MIN_FLEXIBLE = 40.0
#: Space left of the first column and right of the last, inside the shading.
MARGIN = 2.0
ELLIPSIS = "…"
HEADER_FILL = HexColor("#e6eaef")
HEADER_RULE = HexColor("#afb8c1")
BAND_FILL = HexColor("#f6f8fa")
INK = HexColor("#1f2328")
LINK_INK = HexColor("#0550ae")
MUTED_INK = HexColor("#656d76")


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    right: bool = False
    """Right-aligned (numbers) or left-aligned (text)."""
    flexible: bool = False
    """Shares the width the others leave; its cells are cut with "…" when they do not fit."""
    widest: float | None = None
    """A cap on the column's width in points; longer cells are cut with "…"."""


@dataclass(frozen=True, slots=True)
class Table:
    """A laid-out table: every cell fits its column's width (:func:`lay_out`)."""

    columns: tuple[Column, ...]
    widths: tuple[float, ...]
    rows: tuple[tuple[str, ...], ...]
    links: tuple[str | None, ...] = ()
    """Per row, the URI its ``link_column`` cell links to (or None)."""
    link_column: int | None = None
    cut: tuple[str, ...] = ()
    """The cells of flexible columns that were cut, in full, in row order."""


def _clean(value: object) -> str:
    """A cell's text on one line: xhtml2pdf would collapse its white space too."""
    text = str(value)
    return text if text.isprintable() else " ".join("".join(c if c.isprintable() else " " for c in text).split())


def fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    """``text`` cut (in logical order) to ``width`` points with an ellipsis, if it is wider."""
    if text_width(text, size) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + ELLIPSIS, size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


def lay_out(columns: Sequence[Column], rows: Sequence[Sequence[object]], *, links: Sequence[str | None] = (),
            link_column: int | None = None, width: float = FRAME_WIDTH, size: float = FONT_SIZE) -> Table:
    """Columns as wide as their widest cell (or title, or cap); flexible columns share what is
    left in proportion to what they would take, and their longer cells are cut."""
    texts = [tuple(_clean(cell) for cell in row) for row in rows]
    natural = []
    for index, column in enumerate(columns):
        widest = max((text_width(row[index], size) for row in texts), default=0.0)
        wanted = max(widest, text_width(column.title, size))
        natural.append(min(wanted, column.widest) if column.widest else wanted)
    room = width - 2 * MARGIN - GAP * (len(columns) - 1)
    fixed = sum(w for w, column in zip(natural, columns) if not column.flexible)
    excess = fixed + MIN_FLEXIBLE * sum(column.flexible for column in columns) - room
    capped = sum(w for w, column in zip(natural, columns) if column.widest and not column.flexible)
    if excess > 0 and capped:  # too many capped columns (event types): narrower, their titles cut
        factor = max(0.0, 1 - excess / capped)
        natural = [w * factor if column.widest and not column.flexible else w for w, column in zip(natural, columns)]
        fixed = sum(w for w, column in zip(natural, columns) if not column.flexible)
    flexible = sum(w for w, column in zip(natural, columns) if column.flexible)
    if flexible and fixed + flexible > room:
        share = max(0.0, room - fixed) / flexible
        natural = [w * share if column.flexible else w for w, column in zip(natural, columns)]
    widths = tuple(natural)
    cut: list[str] = []
    fitted = []
    for row in texts:
        cells = []
        for text, column, column_width in zip(row, columns, widths):
            if text and (column.flexible or column.widest) and text_width(text, size) > column_width + 0.01:
                shortened = fit(text, column_width, size)
                if column.flexible:
                    cut.append(text)
                text = shortened
            cells.append(text)
        fitted.append(tuple(cells))
    titles = tuple(Column(fit(c.title, w, size), c.right, c.flexible, c.widest) for c, w in zip(columns, widths))
    return Table(titles, widths, tuple(fitted), tuple(links), link_column, tuple(cut))


def markup(table: Table) -> Markup:
    """The tag the template writes where ``table`` goes (see :func:`install`)."""
    data = {"c": [[c.title, c.right] for c in table.columns], "w": table.widths, "r": table.rows,
            "l": table.links, "k": table.link_column}
    # base64: JSON's quotes would be escaped as character references, and html5lib (xhtml2pdf's
    # parser) decodes each of them one at a time (about 4% of the sample's PDF under cProfile)
    text = base64.b64encode(json.dumps(data, separators=(",", ":")).encode("ascii")).decode("ascii")
    return Markup(f'<pdf:celltable data-table="{text}"></pdf:celltable>')


class CellTable(Flowable):
    """A table drawn onto the canvas: a shaded header, then one line per row, banded."""

    def __init__(self, titles: Sequence[str], right: Sequence[bool], widths: Sequence[float],
                 rows: Sequence[Sequence[str]], links: Sequence[str | None] = (), link_column: int | None = None,
                 first_row: int = 0):
        super().__init__()
        self.titles, self.right, self.widths = list(titles), list(right), list(widths)
        self.rows, self.links, self.link_column = list(rows), list(links), link_column
        self.first_row = first_row  # of the whole table, so bands go on across a page break
        self.width = sum(self.widths) + GAP * (len(self.widths) - 1) + 2 * MARGIN
        self.spaceBefore, self.spaceAfter = 2.0, 4.0
        self.height = ROW_HEIGHT * (1 + len(self.rows))

    @classmethod
    def from_json(cls, text: str) -> CellTable:
        data = json.loads(base64.b64decode(text))
        return cls([title for title, _ in data["c"]], [right for _, right in data["c"]], data["w"], data["r"],
                   data["l"], data["k"])

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def split(self, available_width, available_height):
        fits = int(available_height // ROW_HEIGHT) - 1
        if fits < 1 or fits >= len(self.rows):
            return []
        head = len(self.rows) - fits < 2 and fits > 1  # no lone row on the next page
        fits -= head
        make = lambda rows, links, first: CellTable(self.titles, self.right, self.widths, rows, links,  # noqa: E731
                                                    self.link_column, first)
        return [make(self.rows[:fits], self.links[:fits], self.first_row),
                make(self.rows[fits:], self.links[fits:], self.first_row + fits)]

    def draw(self):
        canvas = self.canv
        lefts, x = [], MARGIN
        for width in self.widths:
            lefts.append(x)
            x += width + GAP
        top = self.height
        canvas.saveState()
        canvas.setFillColor(HEADER_FILL)
        canvas.rect(0, top - ROW_HEIGHT, self.width, ROW_HEIGHT, stroke=0, fill=1)
        canvas.setFillColor(BAND_FILL)
        for index in range(len(self.rows)):
            if (self.first_row + index) % 2:
                canvas.rect(0, top - ROW_HEIGHT * (index + 2), self.width, ROW_HEIGHT, stroke=0, fill=1)
        canvas.setStrokeColor(HEADER_RULE)
        canvas.setLineWidth(0.5)
        canvas.line(0, top - ROW_HEIGHT, self.width, top - ROW_HEIGHT)
        text = canvas.beginText()
        text.setFillColor(INK)
        state = {"font": None}
        baseline = (ROW_HEIGHT - FONT_SIZE) / 2 + 0.22 * FONT_SIZE
        for line, cells in enumerate([self.titles, *self.rows]):
            y = top - ROW_HEIGHT * (line + 1) + baseline
            for index, cell in enumerate(cells):
                if not cell:
                    continue
                runs = visual_runs(cell)
                widths = [run_width(face, run, FONT_SIZE) for face, run in runs]
                x = lefts[index] + (self.widths[index] - sum(widths) if self.right[index] else 0)
                link = self.links[line - 1] if line and index == self.link_column and self.links else None
                if link:
                    text.setFillColor(LINK_INK)
                for (face, run), width in zip(runs, widths):
                    name = pdf_name(face)
                    if state["font"] != name:
                        text.setFont(name, FONT_SIZE)
                        state["font"] = name
                    text.setTextOrigin(x, y)
                    text.textOut(run)
                    x += width
                if link:
                    text.setFillColor(INK)
                    canvas.linkURL(link, (lefts[index], y - 2, x, y + FONT_SIZE), relative=1)
        canvas.drawText(text)
        canvas.restoreState()


#: A run of :class:`WrappedText`: its style (plain, bold, muted bold, as the HTML's ``<b>`` and
#: ``.range``) and its words.
PLAIN, BOLD, MUTED = "", "b", "m"
#: Wrapped text's line height (xhtml2pdf's 1.5 × the 7.5 pt) and the space after a paragraph
#: (``.sequence p``'s bottom margin in templates/report/_pdf.css), so it looks as the
#: paragraphs it replaces did.
LINE_HEIGHT = 11.25
PARAGRAPH_GAP = 2.0
#: Where the baseline sits above a line's bottom (where xhtml2pdf's paragraphs put it).
LINE_BASELINE = 5.56


def wrapped(paragraphs: Sequence[Sequence[tuple[str, str]]]) -> Markup:
    """The tag the template writes for paragraphs of runs ``(style, text)`` (see :class:`WrappedText`)."""
    text = base64.b64encode(json.dumps(paragraphs, separators=(",", ":"), ensure_ascii=False).encode()).decode("ascii")
    return Markup(f'<pdf:wrappedtext data-text="{text}"></pdf:wrappedtext>')


Line = tuple[tuple[str, Face, str], ...]
"""A laid-out line of :class:`WrappedText`: its pieces ``(style, face, text)``, left to right."""


class WrappedText(Flowable):
    """Paragraphs of short words (a student's sequence of unit labels) wrapped at spaces and
    drawn line by line, a few text pieces a line.

    The sequences were xhtml2pdf paragraphs: its line breaking measures and copies every word
    as a fragment of its own, and for 200 students × 100 events the two sequence paragraphs
    were about 18% of the PDF (``bench/report_cpu_bench.py``). Words are measured once per
    flowable (labels recur), a line of words in one face is one piece of text, and each word is
    drawn by :func:`reportgen.render.fonts.visual_runs`, so a word in any script keeps its face.
    A long sequence splits between lines across pages."""

    def __init__(self, paragraphs: Sequence[Sequence[tuple[str, str]]] = (), lines: Sequence[tuple[Line, bool]] = (),
                 width: float = FRAME_WIDTH, measured: dict | None = None):
        super().__init__()
        self.paragraphs = [[(style, text) for style, text in runs] for runs in paragraphs]
        self.lines = list(lines)  # (pieces, ends a paragraph)
        self.width = width
        self.height = self._height()
        self.measured = {} if measured is None else measured  # (style, word) → (runs, width)

    @classmethod
    def from_json(cls, text: str) -> list[WrappedText]:
        """One flowable a paragraph, so that a heading kept with the next flowable keeps with
        the first paragraph only, as with xhtml2pdf's paragraphs; the words' widths shared."""
        measured: dict = {}
        return [cls([paragraph], measured=measured) for paragraph in json.loads(base64.b64decode(text))]

    def _height(self) -> float:
        return sum(LINE_HEIGHT + (PARAGRAPH_GAP if last else 0.0) for _, last in self.lines)

    def _lay_out(self, width: float) -> None:
        measured = self.measured

        def measure(style: str, word: str) -> tuple[tuple[tuple[Face, str], ...], float]:
            key = (style, word)
            if key not in measured:
                runs = visual_runs(word, style != PLAIN)
                measured[key] = (runs, sum(run_width(face, run, FONT_SIZE) for face, run in runs))
            return measured[key]

        space = run_width(visual_runs(" ")[0][0], " ", FONT_SIZE)
        lines: list[tuple[Line, bool]] = []
        for runs in self.paragraphs:
            words = [(style, word) for style, text in runs for word in text.split()]
            line: list[tuple[str, Face, str]] = []
            x = 0.0
            for style, word in words:
                pieces, wide = measure(style, word)
                if line and x + space + wide > width:
                    lines.append((tuple(line), False))
                    line, x = [], 0.0
                for index, (face, run) in enumerate(pieces):
                    joined = line and index == 0 and line[-1][0] == style and line[-1][1] == face
                    if joined:
                        line[-1] = (style, face, f"{line[-1][2]} {run}")
                    else:
                        line.append((style, face, f" {run}" if line and index == 0 else run))
                x += (space if x else 0.0) + wide
            lines.append((tuple(line), True))
        self.lines = lines
        self.width = width

    def wrap(self, available_width, available_height):
        width = min(available_width, FRAME_WIDTH)
        if self.paragraphs and (not self.lines or width != self.width):
            self._lay_out(width)
        self.height = self._height()
        return self.width, self.height

    def split(self, available_width, available_height):
        """The lines that fit in ``available_height`` and the rest; the first part is never
        taller than the room (ReportLab stops the document with a "splitting error" if it is)."""
        self.wrap(available_width, available_height)
        room, fits = available_height, 0
        for _, last in self.lines:
            room -= LINE_HEIGHT + (PARAGRAPH_GAP if last else 0.0)
            if room < 0:
                break
            fits += 1
        if fits < 1 or fits >= len(self.lines):
            return []
        return [WrappedText(lines=self.lines[:fits], width=self.width),
                WrappedText(lines=self.lines[fits:], width=self.width)]

    def draw(self):
        canvas = self.canv
        text = canvas.beginText()
        font = ink = None
        y = self.height
        for pieces, last in self.lines:
            y -= LINE_HEIGHT
            text.setTextOrigin(0, y + LINE_BASELINE)
            for style, face, run in pieces:
                if pdf_name(face) != font:
                    font = pdf_name(face)
                    text.setFont(font, FONT_SIZE)
                wanted = MUTED_INK if style == MUTED else INK
                if wanted is not ink:
                    text.setFillColor(wanted)
                    ink = wanted
                text.textOut(run)
            y -= PARAGRAPH_GAP if last else 0.0
        canvas.drawText(text)


class FooterLine(Flowable):
    """The page footer: a rule and one line of text (cut with "…" to its width), drawn like a
    table cell. A paragraph there was laid out again on every page (about 2.5% of a 200-student
    PDF under cProfile); "page N of M" is stamped at its right when the document is finished."""

    SIZE = 7.0
    INK = HexColor("#656d76")
    RULE = HexColor("#d0d7de")

    def __init__(self, text: str, width: float):
        super().__init__()
        self.text = fit(_clean(text), width, self.SIZE)
        self.width, self.height = width, 13.0

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def draw(self):
        canvas = self.canv
        canvas.saveState()
        canvas.setStrokeColor(self.RULE)
        canvas.setLineWidth(0.5)
        canvas.line(0, self.height, FRAME_WIDTH, self.height)
        text = canvas.beginText()
        text.setFillColor(self.INK)
        runs = visual_runs(self.text)
        # the baseline html_pdf.PAGE_NUMBER_BASELINE stamps on
        draw_runs(text, runs, [run_width(face, run, self.SIZE) for face, run in runs], 0.0, self.height - 8.82,
                  self.SIZE)
        canvas.drawText(text)
        canvas.restoreState()


def draw_runs(text, runs: Sequence[tuple[Face, str]], widths: Sequence[float], x: float, y: float,
              size: float) -> None:
    """Draw ``runs`` of :func:`reportgen.render.fonts.visual_runs` (``widths`` wide each) into the
    text object ``text``, left to right from ``x`` on the baseline ``y``, each in its face."""
    for (face, run), width in zip(runs, widths):
        text.setFont(pdf_name(face), size)
        text.setTextOrigin(x, y)
        text.textOut(run)
        x += width


def footer(text: str, width: float) -> Markup:
    """The tag the template writes for the page footer (see :func:`install`)."""
    return Markup('<pdf:footerline data-text="{}" data-width="{}"></pdf:footerline>').format(text, width)


#: The URI scheme of the empty link annotation a :class:`Destination` leaves on its page.
DESTINATION_SCHEME = "reportgen-destination:"


class Destination(Flowable):
    """Where the finished document's ``#name`` links lead (the top of a student's first page);
    it takes no room. ReportLab writes a named destination only when a link of the same
    document uses it, and the link and its target are in different parts of the document
    until it is finished, so the page is marked with an empty link annotation to
    ``reportgen-destination:name``, which :func:`reportgen.render.html_pdf.resolve_links` reads and
    removes."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.width = self.height = 0

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv.linkURL(DESTINATION_SCHEME + self.name, (0, 0, 0, 0), relative=1)


def destination(name: str) -> Markup:
    """The tag the template writes where a link may lead (see :func:`install`)."""
    return Markup(f'<pdf:destination name="{escape(name)}"></pdf:destination>')


def install() -> None:
    """Teach xhtml2pdf the ``<pdf:celltable>``, ``<pdf:wrappedtext>``, ``<pdf:footerline>`` and
    ``<pdf:destination>`` tags: it looks a tag's class up by name (``pisaTag`` + the tag's name
    without the colon) among its parser module's globals."""
    from xhtml2pdf import parser
    from xhtml2pdf.tags import pisaTag

    class CellTableTag(pisaTag):
        def start(self, c):
            c.addPara()
            c.addStory(CellTable.from_json(self.node.getAttribute("data-table")))

    class DestinationTag(pisaTag):
        def start(self, c):
            c.addPara()
            c.addStory(Destination(self.node.getAttribute("name")))

    class WrappedTextTag(pisaTag):
        def start(self, c):
            c.addPara()
            for flowable in WrappedText.from_json(self.node.getAttribute("data-text")):
                c.addStory(flowable)

    class FooterLineTag(pisaTag):
        def start(self, c):
            c.addPara()
            c.addStory(FooterLine(self.node.getAttribute("data-text"), float(self.node.getAttribute("data-width"))))

    parser.pisaTagPDFCELLTABLE = CellTableTag
    parser.pisaTagPDFFOOTERLINE = FooterLineTag
    parser.pisaTagPDFDESTINATION = DestinationTag
    parser.pisaTagPDFWRAPPEDTEXT = WrappedTextTag
