"""CSV through the pages in real headless Chromium: a broken CSV explained by row and column, at
desktop and phone sizes."""
from __future__ import annotations


import pytest
from playwright.sync_api import expect

from ..helpers import report_count
from .conftest import PHONE

pytestmark = pytest.mark.browser


def test_a_pasted_csv_with_mistakes_is_explained_by_row_and_column(app, live_server, page, artifacts):
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON or CSV").fill(
        "student_id;namespace;created_time;unit\nalice;course-1;2024-07-21 03:00;5\nalice;course-1;soon;\n")
    page.get_by_role("button", name="Make reports").click()
    problem = page.locator("#text-errors")
    expect(problem).to_contain_text("Row 3, column unit: is required")
    expect(problem).to_contain_text("Row 3, column created_time: 'soon' is not an ISO 8601 date-time")
    expect(page.get_by_label("Paste JSON or CSV")).to_have_attribute("aria-invalid", "true")
    assert report_count(app) == 0
    page.screenshot(path=artifacts / "upload-csv-invalid.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "upload-csv-invalid-phone.png", full_page=True)
