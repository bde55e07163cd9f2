"""The report itself as a teacher sees it: the HTML in real Chromium at desktop and phone sizes,
and the PDF's pages as pictures (poppler's pdftoppm), saved under tests/artifacts/."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from ..support.api import submit
from ..support.payloads import sample_like
from .conftest import PHONE

pytestmark = pytest.mark.browser


def no_page_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def test_the_html_report_reads_well_on_a_desktop_and_a_phone(client, live_server, run_worker, page, artifacts):
    task_id = submit(client, "html", sample_like())
    run_worker()

    page.goto(f"{live_server}/assignment/html/{task_id}")
    expect(page.get_by_role("heading", name="Class: ns_example (19 students)")).to_be_visible()
    expect(page.locator("figure.chart svg").first).to_be_visible()
    expect(page.locator("table.ranges")).to_contain_text("Time on task")
    expect(page.locator("table.overview tbody tr")).to_have_count(19)
    page.screenshot(path=artifacts / "report-cohort.png")

    first = page.locator("section.student").first
    first.scroll_into_view_if_needed()
    expect(first.locator("table.units")).to_be_visible()
    student_id = sample_like()[0]['student_id']
    expect(first.locator("svg title")).to_have_text([f"Activity of {student_id}", f"Timeline of {student_id}"])
    expect(first.locator(".sr-only table.visits caption")).to_have_text(
        f"Visits of {sample_like()[0]['student_id']} in time order")
    log = first.locator("details.event-log")
    expect(log.locator("table.events")).to_be_hidden()  # the raw log is an appendix, collapsed
    log.locator("summary").click()
    expect(log.locator("table.events")).to_be_visible()
    first.screenshot(path=artifacts / "report-student.png")

    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/assignment/html/{task_id}")
    assert no_page_scroll(page), "the phone page scrolls sideways"
    page.screenshot(path=artifacts / "report-cohort-phone.png")
    page.locator("section.student").first.screenshot(path=artifacts / "report-student-phone.png")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_the_pdf_pages_as_pictures(client, run_worker, artifacts, tmp_path):
    task_id = submit(client, "pdf", sample_like())
    run_worker()
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(client.get(f"/assignment/pdf/{task_id}").data)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "2", str(pdf), str(artifacts / "report-pdf")],
                   check=True, timeout=60)
    pictures = sorted(artifacts.glob("report-pdf-*.png"))
    assert len(pictures) == 2 and all(picture.stat().st_size > 20_000 for picture in pictures)


def many_scripts_class() -> list[dict]:
    """A mixed class whose students are named in Arabic, Hebrew, Chinese, Hindi, Thai and Latin."""
    from bench.synthetic import mixed_class

    names = ["محمد علي", "דוד כהן", "王小明", "देवनागरी", "สมชาย ใจดี", "Zoë Núñez"]
    students, _ = mixed_class(24, seed=5)
    for number, entry in enumerate(students):
        entry["student_id"] = f"{names[number % len(names)]} {number + 1}"
    return students


def smallest_chart_text(page, selector: str) -> float:
    """The smallest font size, in CSS pixels as drawn, of the SVG texts under ``selector``."""
    return page.evaluate("""selector => Math.min(...[...document.querySelectorAll(selector + ' svg text')].map(
        text => parseFloat(text.getAttribute('font-size')) * text.getScreenCTM().a))""", selector)


def test_needs_attention_and_the_units_of_the_class_read_well_on_a_desktop_and_a_phone(
        client, live_server, run_worker, page, artifacts):
    task_id = submit(client, "html", many_scripts_class(), options={"timezone": "Europe/Berlin"})
    run_worker()

    for size, suffix in ((None, ""), (PHONE, "-phone")):
        if size:
            page.set_viewport_size(size)
        page.goto(f"{live_server}/assignment/html/{task_id}")
        attention = page.locator("#needs-attention")
        expect(attention.get_by_role("heading", name=re.compile(r"Needs attention \(\d+ of 24 students\)"))).to_be_visible()
        assert 1 <= attention.locator("li").count() <= 7
        expect(page.locator("p.option", has_text="Times: Europe/Berlin (times marked CEST or CET)")).to_be_visible()
        expect(page.locator("p.hardest")).to_contain_text("Hardest unit: Q")
        expect(page.locator("table.class-units thead")).to_contain_text("Saves per submission")
        assert no_page_scroll(page), f"the page scrolls sideways at {size}"
        assert smallest_chart_text(page, "figure.narrow") >= 11
        attention.screenshot(path=artifacts / f"report-attention{suffix}.png")
        page.locator("figure.narrow").first.screenshot(path=artifacts / f"report-units-chart{suffix}.png")
        page.locator("figure.heat").screenshot(path=artifacts / f"report-heat{suffix}.png")
        page.locator("table.class-units").screenshot(path=artifacts / f"report-units-table{suffix}.png")
    first = page.locator("#needs-attention a").first
    target = first.get_attribute("href")
    first.click()
    expect(page.locator(target)).to_be_in_viewport()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_the_class_pages_of_the_pdf_as_pictures(client, run_worker, artifacts, tmp_path):
    task_id = submit(client, "pdf", many_scripts_class(), options={"timezone": "Europe/Berlin"})
    run_worker()
    pdf = tmp_path / "class.pdf"
    pdf.write_bytes(client.get(f"/assignment/pdf/{task_id}").data)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "3", str(pdf), str(artifacts / "class-pdf")],
                   check=True, timeout=60)
    pictures = sorted(artifacts.glob("class-pdf-*.png"))
    assert len(pictures) == 3 and all(picture.stat().st_size > 20_000 for picture in pictures)
