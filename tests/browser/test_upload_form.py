"""The upload form's messages and the example data, in real headless Chromium (issue 13)."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from ..support.database import report_count
from ..support.payloads import three_mistakes
from ..support.processes import ROOT
from .conftest import PHONE

pytestmark = pytest.mark.browser

EXAMPLE = (ROOT / "examples" / "students.json").read_text(encoding="utf-8")
STATUS_URL = re.compile(r"/reports/[0-9a-f-]{36}$")


def page_scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def test_every_problem_shows_at_once_in_plain_words_at_desktop_and_phone(app, live_server, page, artifacts):
    page.goto(live_server + "/")
    expect(page.get_by_label("Email the reports to (optional)")).to_have_count(0)  # no SMTP_HOST here
    envelope = {"students": three_mistakes(), "email": ["teacher@school.example"]}
    page.get_by_label("Paste JSON or CSV").fill(json.dumps(envelope, indent=2))
    page.get_by_label("HTML").uncheck()
    page.get_by_label("PDF").uncheck()
    page.get_by_label("Label (optional)").fill("Week 3")
    page.get_by_role("button", name="Make reports").click()

    expect(page).to_have_title("Problems with your upload · reportgen")
    expect(page.locator("#formats-errors")).to_have_text("Choose at least one format.")
    problems = page.locator("#text-errors")
    expect(problems.locator(".problem-title")).to_have_text("63 problems to fix")
    expect(problems.locator("li")).to_have_text([
        "Student 1: the student id is missing",
        "Events 1–60 of student 2 (s-002): the unit is missing (60 times)",
        re.compile(r"^Student 3 \(s-003\), event 1: the time \(created_time\) 'next tuesday' is not an ISO 8601"),
        "Email: this server has no SMTP server configured (SMTP_HOST)",
    ])
    assert not re.search(r"\$|\[\d+\]|Expecting", problems.inner_text())
    expect(page.get_by_label("Paste JSON or CSV")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Label (optional)")).to_have_value("Week 3")
    assert report_count(app) == 0
    assert not page_scrolls_sideways(page)
    page.screenshot(path=artifacts / "upload-errors.png", full_page=True)
    page.set_viewport_size(PHONE)
    assert not page_scrolls_sideways(page)
    page.screenshot(path=artifacts / "upload-errors-phone.png", full_page=True)


def test_a_trailing_comma_is_shown_with_the_line_before_and_a_caret_in_view_on_a_phone(
        app, live_server, page, artifacts):
    page.set_viewport_size(PHONE)
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON or CSV").fill('[\n  {"student_id": "a", "events": []},\n]')
    page.get_by_role("button", name="Make reports").click()
    problem = page.locator("#text-errors")
    expect(problem.locator(".problem-title")).to_have_text("The JSON can’t be read at line 2, column 36")
    snippet = problem.locator(".snippet")
    expect(snippet).to_have_text('1 │ [\n2 │   {"student_id": "a", "events": []},\n  │ ' + " " * 35 + "^")
    assert not page_scrolls_sideways(page)  # the excerpt scrolls inside its own box …
    box, caret = snippet.bounding_box(), snippet.locator(".caret").bounding_box()
    assert box["x"] <= caret["x"] and caret["x"] + caret["width"] <= box["x"] + box["width"]  # … to its caret
    page.screenshot(path=artifacts / "upload-json-caret-phone.png", full_page=True)


def test_try_it_with_example_data_fills_the_text_box_in_place(app, live_server, page):
    page.goto(live_server + "/")
    page.evaluate("window.__marker = 'same page'")
    page.get_by_role("link", name="Try it with example data").click()
    text = page.get_by_label("Paste JSON or CSV")
    expect(text).to_have_value(EXAMPLE)
    expect(text).to_be_focused()
    expect(page.locator("#example-status")).to_contain_text("Example data filled in")
    assert page.evaluate("window.__marker") == "same page" and page.url == live_server + "/"
    page.get_by_role("button", name="Make reports").click()
    page.wait_for_url(STATUS_URL)
    assert report_count(app) == 2


def test_try_it_with_example_data_works_without_javascript(app, live_server, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(live_server + "/")
    page.get_by_role("link", name="Try it with example data").click()
    page.wait_for_url(live_server + "/?example=1")
    expect(page.get_by_label("Paste JSON or CSV")).to_have_value(EXAMPLE)
    page.get_by_role("button", name="Make reports").click()
    page.wait_for_url(STATUS_URL)
    assert report_count(app) == 2
