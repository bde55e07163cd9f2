"""The PDF right in every script, and whole: a class with Arabic, Hebrew, Chinese, Japanese,
Korean, Hindi and Thai names and unit names reads back from the PDF as it was given, every
table cell in its column; a 120-student PDF is numbered "page N of M" across its parts, its
text has no padding characters and its class table links each name to the student's pages.

Geometry comes from pdfplumber (where each character is drawn). Text in logical order comes
from poppler's pdftotext, a reader's extractor: a PDF draws right-to-left text in visual
order, and putting it back in logical order is the extractor's work (pdfplumber does not).
"""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import unicodedata

import pdfplumber
import pytest
from pypdf import PdfReader

from reportgen.render.documents import render_document
from reportgen.render.html_pdf import page_ranges

from ..support.payloads import SCRIPT_NAMES as NAMES
from ..support.payloads import SCRIPT_UNITS as UNITS
from ..support.payloads import event, multi_script_class, sample_like, student
from ..support.svg_reference import flowable_pdf, svglib_drawing
from .test_report_pdf import assert_readable

#: The face each script's characters must be drawn in (as the PDF names it, subset prefix aside).
FACES = {"Chinese": "DroidSansFallback", "Japanese": "DroidSansFallback", "Korean": "DroidSansFallback",
         "Hindi": "NotoSansDevanagari", "Thai": "NotoSansThai"}
#: The class table's columns and whether each is right-aligned.
COLUMNS = (("#", True), ("Student", False), ("Events", True), ("Time", True), ("Revisits", True),
           ("Events rank", True), ("Time rank", True), ("Revisits rank", True), ("Flags", False))
#: Bidi embedding controls pdftotext puts around the right-to-left runs it reorders.
EMBEDDINGS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e"))

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")


def logical_lines(pdf: bytes, page: int) -> list[str]:
    """One page's text as pdftotext gives it (columns kept apart by spaces), NFKC-normalised:
    Arabic is drawn in its joined presentation forms, which NFKC maps back to letters."""
    result = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), "-", "-"],
                            input=pdf, capture_output=True, check=True, timeout=60)
    text = unicodedata.normalize("NFKC", result.stdout.decode("utf-8").translate(EMBEDDINGS))
    return [line.strip() for line in text.splitlines() if line.strip()]


def cells_of(line: str) -> list[str]:
    return re.split(r" {2,}", line)


def drawn_runs(chars: list[dict], gap: float = 4.0) -> list[list[dict]]:
    """A line's characters, left to right, in runs with less than ``gap`` points between them
    (a table's columns are 8 points apart, the words of a cell one space)."""
    runs: list[list[dict]] = []
    for char in sorted(chars, key=lambda c: c["x0"]):
        if runs and char["x0"] - runs[-1][-1]["x1"] < gap:
            runs[-1].append(char)
        else:
            runs.append([char])
    return runs


@pytest.fixture(scope="module")
def class_pdf() -> bytes:
    return render_document("pdf", json.dumps(multi_script_class()))


def class_table_page(pdf: bytes) -> int:
    """The index of the page with the class table (after Needs attention and the units)."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return next(index for index, page in enumerate(document.pages)
                    if "Students (upload order)" in page.extract_text())


def first_student_page(pdf: bytes, students: int) -> int:
    """The index of the first student's first page (after the class pages), from the bookmarks."""
    return page_ranges(pdf, students)[0][0]


@needs_pdftotext
def test_the_class_table_reads_back_row_by_row_in_logical_order_as_given(class_pdf):
    lines = logical_lines(class_pdf, class_table_page(class_pdf) + 1)
    header = next(index for index, line in enumerate(lines) if line.startswith("# "))
    assert cells_of(lines[header]) == [title for title, _ in COLUMNS]
    for number, name in enumerate([*NAMES.values(), "Zoë Núñez"], start=1):
        row = cells_of(lines[header + number])
        assert len(row) == len(COLUMNS), row
        assert row[:2] == [str(number), name]
        assert row[2].isdigit() and row[4].isdigit() and all(re.fullmatch(r"P\d+", rank) for rank in row[5:8])
        assert re.fullmatch(r"(\d+ h )?\d+ min", row[3]), row[3]  # never cut ("1 h 50 …")


def test_every_class_table_cell_stays_in_its_column(class_pdf):
    table_page = class_table_page(class_pdf)
    with pdfplumber.open(io.BytesIO(class_pdf)) as document:
        page = document.pages[table_page]
        header_top = next(match for match in page.search("Revisits rank"))["top"]
        lines: dict[int, list[dict]] = {}
        for char in page.chars:
            if header_top - 1 <= char["top"] and char["text"] != " ":
                lines.setdefault(-round(char["matrix"][5]), []).append(char)  # by baseline
        rows = sorted(lines.items())[:1 + len(NAMES) + 1]
    header = drawn_runs(rows[0][1])
    assert ["".join(c["text"] for c in run) for run in header] == [title.replace(" ", "") for title, _ in COLUMNS]
    for _, chars in rows[1:]:
        cells = drawn_runs(chars)
        assert len(cells) == len(COLUMNS), ["".join(c["text"] for c in cell) for cell in cells]
        for cell, title, (_, right) in zip(cells, header, COLUMNS):
            if right:  # right-aligned under its title's right edge
                assert abs(max(c["x1"] for c in cell) - max(c["x1"] for c in title)) < 0.6
            else:
                assert abs(min(c["x0"] for c in cell) - min(c["x0"] for c in title)) < 0.6


@needs_pdftotext
def test_each_students_page_lists_its_units_in_logical_order_and_the_timeline_draws_them(class_pdf):
    first = first_student_page(class_pdf, len(NAMES) + 1) + 1
    for page_number, name in enumerate(NAMES.values(), start=first):
        lines = logical_lines(class_pdf, page_number)
        assert lines[0] == name
        header = next(index for index, line in enumerate(lines) if line.startswith("Unit "))
        units = {cells_of(line)[1] for line in lines[header + 1: header + 1 + len(UNITS)]}
        assert units == set(UNITS.values())
        labels = {line.partition(" · ")[2] for line in lines if re.match(r"Q\d+ · ", line)}
        assert labels == set(UNITS.values())  # the timeline's labels


def test_every_script_is_drawn_in_a_face_that_has_it_in_tables_and_charts(class_pdf):
    last = first_student_page(class_pdf, len(NAMES) + 1) + len(NAMES)
    with pdfplumber.open(io.BytesIO(class_pdf)) as document:
        chars = [char for page in document.pages[:last] for char in page.chars]
    for script, face in FACES.items():
        letters = set(NAMES[script].replace(" ", "") + UNITS[script])
        drawn = [char for char in chars if char["text"] in letters]
        assert drawn, script
        assert {char["fontname"].partition("+")[2].partition("-")[0] for char in drawn} == {face}, script
    # The timeline's labels are drawn too: each CJK unit name at least twice (table and chart).
    assert all(sum(char["text"] == UNITS[script][0] for char in chars) >= 2 * len(NAMES)
               for script in ("Chinese", "Japanese", "Korean"))


def test_no_text_of_the_multi_script_class_overlaps_or_leaves_the_page(class_pdf):
    assert assert_readable(class_pdf) > 300


#: Names HarfBuzz shapes: conjuncts drawn as one glyph (क्ष, त्र, प्र), the vowel sign I drawn
#: before its consonant, a reph (र्) drawn over the syllable after it, a Thai tone mark over a
#: vowel sign; each student also has a Devanagari and a Thai unit.
SHAPED_NAMES = ("क्षत्रिय", "प्रिया शर्मा", "กิตติ์")


@pytest.fixture(scope="module")
def shaped_pdf() -> bytes:
    events = [event("बीजगणित", "2024-07-01T10:00:00Z"), event("พีชคณิต", "2024-07-01T10:05:00Z"),
              event("बीजगणित", "2024-07-01T10:09:00Z")]  # three events: a page of its own, not a brief student's
    return render_document("pdf", json.dumps([student(name, events) for name in SHAPED_NAMES]))


def heading_chars(pdf: bytes, index: int) -> list[dict]:
    """The characters pdfplumber reads from the heading (a student's name) of student ``index``."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        page = document.pages[first_student_page(pdf, len(SHAPED_NAMES)) + index]
        top = min(char["top"] for char in page.chars if char["size"] >= 12)
        return sorted((char for char in page.chars if abs(char["top"] - top) < 3), key=lambda char: char["x0"])


def test_devanagari_conjuncts_are_drawn_as_one_glyph_and_the_vowel_sign_i_before_its_consonant(shaped_pdf):
    drawn = [char["text"] for char in heading_chars(shaped_pdf, 0)]
    # Unshaped, the eight characters were eight glyphs: क ् ष त ् र ि य, the vowel sign after र.
    assert drawn == ["क्ष", "ि", "त्र", "य"]
    drawn = [char["text"] for char in heading_chars(shaped_pdf, 1) if char["text"] != " "]
    assert drawn == ["ि", "प्र", "य", "ा", "श", "म", "ा", "र्"]  # the reph drawn over मा, where it goes


def test_a_thai_tone_mark_over_a_vowel_sign_is_set_apart_from_it(shaped_pdf):
    chars = heading_chars(shaped_pdf, 2)
    assert "".join(char["text"] for char in chars) == "กิตติ์"
    vowel, tone = chars[-2:]
    assert tone["top"] != pytest.approx(vowel["top"], abs=0.2)  # unshaped, one was drawn over the other


@needs_pdftotext
def test_shaped_names_and_units_copy_out_as_written_in_headings_tables_and_charts(shaped_pdf):
    table = logical_lines(shaped_pdf, class_table_page(shaped_pdf) + 1)
    for index, name in enumerate(SHAPED_NAMES):
        assert any(cells_of(line)[:2] == [str(index + 1), name] for line in table), name
        page = logical_lines(shaped_pdf, first_student_page(shaped_pdf, len(SHAPED_NAMES)) + index + 1)
        assert page[0] == name
        for unit in ("बीजगणित", "พีชคณิต"):
            assert sum(unit in line for line in page) == 2, unit  # the unit table and the timeline


@pytest.fixture(scope="module")
def big_pdf() -> bytes:
    return render_document("pdf", json.dumps(sample_like(120)))


def test_a_120_student_pdf_is_numbered_page_1_of_n_to_n_of_n_across_its_parts(big_pdf):
    reader = PdfReader(io.BytesIO(big_pdf))
    total = len(reader.pages)
    assert total > 120
    for number, page in enumerate(reader.pages, start=1):
        footer = page.extract_text().splitlines()[-1]
        assert footer.endswith(f"page {number} of {total}"), footer


def test_a_120_student_pdf_has_no_padding_characters_in_its_text(big_pdf):
    with pdfplumber.open(io.BytesIO(big_pdf)) as document:
        text = "".join(page.extract_text() for page in document.pages)
    assert "\ufffc" not in text and "\u00a0" not in text
    assert sample_like(120)[7]["student_id"] in text


def test_each_class_table_name_links_to_that_students_first_page(big_pdf):
    reader = PdfReader(io.BytesIO(big_pdf))
    pages = {page.indirect_reference.idnum: index for index, page in enumerate(reader.pages)}
    ids = [item["student_id"] for item in sample_like(120)]
    students_start = first_student_page(big_pdf, len(ids))
    with pdfplumber.open(io.BytesIO(big_pdf)) as document:
        linked = []
        for page_index, page in enumerate(document.pages[:students_start]):
            for annotation in reader.pages[page_index].get("/Annots", ()):
                annotation = annotation.get_object()
                x0, y0, x1, y1 = (float(value) for value in annotation["/Rect"])
                name = page.crop((x0, page.height - y1, x1, page.height - y0)).extract_text()
                target = pages[annotation["/Dest"][0].idnum]
                linked.append((name, target))
        heading = {index: page.extract_text().splitlines()[0] for index, page in enumerate(document.pages)}
    assert [name for name, _ in linked] == ids
    for name, target in linked:  # the student's page, and the first of them
        assert heading[target] == name and heading[target - 1] != name


def test_the_pdf_draws_a_charts_texts_where_an_svg_renderer_puts_them(class_pdf):
    """The PDF draws a chart's marks itself (reportgen.render.pdf_charts) and the HTML page shows
    them as SVG: svglib, an SVG renderer, puts every text of the SVG where the PDF does, in the same
    faces, in every script (svglib drops a text's edge spaces, which draw nothing)."""
    from reportlab.graphics import renderPDF

    from reportgen.render import charts

    rows = [f"Q{index} · {unit}" for index, unit in enumerate(UNITS.values(), start=1)]
    timeline = charts.timeline(rows, [], "t", "d")
    distribution = charts.distribution([charts.Strip("Time on task", (1.0, 5.0, 9.0), 2.0, 5.0, 8.0, "minutes")],
                                       "t", "d")
    for chart in (timeline, distribution):
        drawn = []
        for document in (flowable_pdf(chart), renderPDF.drawToString(svglib_drawing(chart))):
            with pdfplumber.open(io.BytesIO(document)) as opened:  # svglib's page is in pixels: one scale
                page = opened.pages[0]
                scale = chart.width / page.width
                drawn.append(sorted((round(c["top"] * scale, 1), round(c["x0"] * scale, 1), c["text"],
                                     c["fontname"].partition("+")[2]) for c in page.chars if c["text"] != " "))
        ours, theirs = drawn
        assert [c[2:] for c in ours] == [c[2:] for c in theirs] and ours
        # the SVG rounds each run's x to a tenth of a point, the PDF places runs exactly
        assert all(a[0] == b[0] and abs(a[1] - b[1]) <= 0.15 for a, b in zip(ours, theirs))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_the_pdf_draws_a_charts_marks_as_an_svg_renderer_does(tmp_path):
    from PIL import Image, ImageChops
    from reportlab.graphics import renderPDF

    from reportgen.render import charts

    chart = charts.distribution([charts.Strip("Events", (3.0, 10.0, 40.0), 5.0, 10.0, 30.0, "per student"),
                                 charts.Strip("Revisits", (0.0, 2.0, 9.0), 1.0, 2.0, 8.0, "per student")], "t", "d")
    pictures = []
    for name, document, dpi in (("ours", flowable_pdf(chart), 72),
                                ("svglib", renderPDF.drawToString(svglib_drawing(chart)), 96)):
        (tmp_path / f"{name}.pdf").write_bytes(document)
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", str(tmp_path / f"{name}.pdf"),
                        str(tmp_path / name)], check=True, timeout=60)
        pictures.append(Image.open(tmp_path / f"{name}.png").convert("L"))
    assert pictures[0].size == pictures[1].size
    difference = ImageChops.difference(*pictures).point(lambda value: 255 if value > 64 else 0)
    differing = sum(difference.histogram()[255:]) / (pictures[0].size[0] * pictures[0].size[1])
    assert differing < 0.005, f"{differing:.2%} of the pixels differ"
