"""The class page a teacher acts on, in the HTML and the PDF: who needs attention and why,
the units of the class, whole counts, one duration format, and times in the report's zone."""
from __future__ import annotations

import io
import json
import re
from html import unescape

import pdfplumber

from bench.synthetic import mixed_class
from reportgen.render.documents import render_document
from reportgen.domain.preparation import prepare
from reportgen.domain.submission import parse_submission, parse_text

from ..support.processes import ROOT
from .test_report_pdf import assert_readable

EXAMPLE = ROOT / "examples" / "students.json"
SCRIPT_NAMES = ["محمد علي", "דוד כהן", "王小明", "देवनागरी", "สมชาย ใจดี", "Zoë Núñez"]


def html_text(html: bytes) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html.decode("utf-8")))


def pdf_text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return "\n".join(page.extract_text() for page in document.pages)


def squeeze(text: str) -> str:
    """Text with every run of white space (and the PDF's line breaks) as one space."""
    return re.sub(r"\s+", " ", text.replace("\u200b", "")).strip()


def attention_block(html: bytes) -> str:
    page = html.decode("utf-8")
    start = page.index('id="needs-attention"')
    return page[start:page.index("</div>", start)]


def test_examples_students_json_flags_at_most_a_quarter_and_prints_each_flagged_students_reasons():
    prepared = prepare(parse_text(EXAMPLE.read_text()))
    flagged = [(number, metrics) for number, metrics in enumerate(prepared.metrics, start=1) if metrics["flags"]]
    assert len(flagged) <= len(prepared.students) / 4
    html = render_document("html", EXAMPLE.read_text())
    attention = squeeze(html_text(attention_block(html).encode()))
    assert f"Needs attention ({len(flagged)} of {len(prepared.students)} students)" in attention
    pdf = squeeze(pdf_text(render_document("pdf", EXAMPLE.read_text())))
    for number, metrics in flagged:
        for flag in metrics["flags"]:
            assert squeeze(flag["text"])[1:] in attention and squeeze(flag["text"])[1:] in pdf


def test_needs_attention_lists_the_flagged_students_farthest_first_with_their_reasons():
    students, kinds = mixed_class(30, seed=1)
    prepared = prepare(parse_submission(students))
    flagged = sorted(((metrics["distance"], number, metrics) for number, metrics
                      in enumerate(prepared.metrics, start=1) if metrics["flags"]), key=lambda item: (-item[0], item[1]))
    assert 0 < len(flagged) <= 0.3 * len(students)
    assert {kinds[number - 1] for _, number, _ in flagged} <= {"struggling", "barely started", "late", "slow", "steady"}
    html = render_document("html", json.dumps(students))
    block = attention_block(html)
    assert re.findall(r'href="#student-(\d+)"', block) == [str(number) for _, number, _ in flagged]
    text = squeeze(html_text(block.encode()))
    pdf = squeeze(pdf_text(render_document("pdf", json.dumps(students))))
    for _, number, metrics in flagged:
        for flag in metrics["flags"]:
            assert squeeze(flag["text"])[1:] in text
            assert squeeze(flag["text"])[1:] in pdf
    assert pdf.index("Needs attention") < pdf.index("Units of the class") < pdf.index("Students (upload order)")


def test_the_units_of_the_class_name_the_hardest_unit_with_a_table_a_chart_and_a_heat_map():
    students, _ = mixed_class(19, seed=2)
    prepared = prepare(parse_submission(students))
    cohort = prepared.cohorts["ns_example"]
    hardest = cohort["hardest_unit"]
    assert hardest and hardest["reasons"]
    html = render_document("html", json.dumps(students)).decode("utf-8")
    assert f"Hardest unit: {hardest['label']} (unit {hardest['unit']}): " in html
    table = html[html.index('<table class="class-units">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr") == 1 + len(cohort["units"])
    assert '<tr class="hardest"><th scope="row">' + hardest["label"] + " " in table
    for unit in cohort["units"]:
        assert f"{unit['students']} of 19" in table
    assert "<title>The units of ns_example</title>" in html
    assert "<title>Time on task by unit in ns_example</title>" in html
    pdf = render_document("pdf", json.dumps(students))
    text = squeeze(pdf_text(pdf))
    assert f"Hardest unit: {hardest['label']} (unit {hardest['unit']}):" in text
    assert "Time on task by unit" in text and "Reached by" in text
    assert_readable(pdf)


def test_counts_are_whole_numbers_durations_have_one_format_and_ranks_say_what_they_rank():
    students, _ = mixed_class(19, seed=4)
    html = html_text(render_document("html", json.dumps(students)))
    text = squeeze(pdf_text(render_document("pdf", json.dumps(students)))) + " " + squeeze(html)
    assert not re.search(r"percentile \d+\.\d", text)  # no "15th percentile 105.8 events"
    assert not re.search(r"span \d+ d \d\d:|span \d\d:\d\d:\d\d", text)  # no "01:03:49" durations
    assert re.search(r"span (\d+ d )?(\d+ h )?\d+ min", text)
    assert "Rank E/T/R" not in text
    assert "Events rank" in html and "Revisits rank" in text


def test_a_time_zone_shows_every_time_in_it_and_the_report_says_so():
    students = [{"student_id": name, "namespace": "n", "events": [
        {"unit": 5, "type": "saved_code", "created_time": "2024-07-01T10:00:00Z"},
        {"unit": 6, "type": "submission", "created_time": "2024-07-01T10:20:00Z"}]} for name in SCRIPT_NAMES]
    options = {"timezone": "Asia/Kolkata"}
    html = html_text(render_document("html", json.dumps(students), options))
    assert "Times: Asia/Kolkata (times marked IST)" in html
    assert "2024-07-01 15:30:00 IST" in html and "10:00:00 UTC" not in html
    pdf = render_document("pdf", json.dumps(students), options)
    text = squeeze(pdf_text(pdf))
    assert "Times: Asia/Kolkata" in text and "2024-07-01 15:30:00 IST" in text
    assert "UTC" not in text
    assert_readable(pdf)
