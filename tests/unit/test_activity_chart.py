"""Activity over time is a chart on every page that has it: per day or week, the student beside
the class median, and the class's own on the class page; the HTML keeps the figures in a table
for screen readers."""
from __future__ import annotations

import json
import re

import pytest

from reportgen.render.documents import render_document

from ..support.payloads import event, student
from ..support.pdf import pdf_pages
from .test_report_pdf import assert_readable


def class_over(days: int, step: int) -> list[dict]:
    """Five students; student n works on days 1, 1 + step, … (n + 1 events a day, ten minutes apart)."""
    def day(number: int) -> str:
        return f"2024-{1 + number // 28:02d}-{1 + number % 28:02d}"

    return [student(f"s-{n}", [event(str(k % 3), f"{day(d)}T{10 + k // 6:02d}:{k % 6 * 10:02d}:00Z")
                               for d in range(0, days, step) for k in range(n + 1)])
            for n in range(1, 6)]


def student_page(pdf: bytes, student_id: str) -> str:
    """The text of a student's first page (under the running footer's line)."""
    return next(text for text in pdf_pages(pdf) if f"\n{student_id}\n" in text)


@pytest.fixture(scope="module")
def daily() -> tuple[bytes, str]:
    text = json.dumps(class_over(20, 2))
    return render_document("pdf", text), render_document("html", text).decode()


def test_a_student_page_draws_events_and_time_per_day_with_their_scale(daily):
    pdf, _ = daily
    page = student_page(pdf, "s-5")
    assert "Events per day (0–6)" in page and "Time on task per day (0–50 min)" in page
    assert "2024-01-01" in page and "2024-01-19" in page
    assert "class median" in page and "minutes on task" not in page


def test_the_class_page_draws_the_class_events_time_and_active_students_per_day(daily):
    pdf, html = daily
    first = pdf_pages(pdf)[0]
    assert "Events of the class per day (0–20)" in first and "Students active per day (0–5)" in first
    assert "Time on task of the class per day (0–2 h 30 min)" in first
    assert "Activity of the class per day" in html


def test_the_html_keeps_each_days_figures_in_a_table_for_screen_readers(daily):
    _, html = daily
    table = html[html.index("<caption>Activity of s-3 per day"):]
    rows = re.findall(r"<tr><td>(2024-01-\d\d)</td><td>(\d+)</td>", table[:table.index("</table>")])
    assert rows[0] == ("2024-01-01", "4") and rows[1] == ("2024-01-02", "0") and len(rows) == 19


def test_a_long_span_is_drawn_per_week_and_stays_on_the_page():
    pdf = render_document("pdf", json.dumps(class_over(300, 14)))
    page = student_page(pdf, "s-2")
    assert "Events per week (0–4)" in page  # the class median of 4 sets the scale and "week of 2024-01-01" in page
    assert assert_readable(pdf) > 100
