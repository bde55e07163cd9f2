"""CSV through the pages in real headless Chromium: a spreadsheet's file in, a CSV for Excel out,
and a broken CSV explained by row and column, at desktop and phone sizes."""
from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..support.database import report_count
from ..support.processes import ROOT
from .conftest import PHONE

pytestmark = pytest.mark.browser

DONE_TIMEOUT = 180_000
STATUS_URL = re.compile(r"/reports/[0-9a-f-]{36}$")


def test_upload_the_example_csv_and_download_it_for_excel(app, live_server, workers, page, artifacts):
    page.goto(live_server + "/")
    page.get_by_label("JSON or CSV file").set_input_files(ROOT / "examples" / "students.csv")
    page.get_by_label("HTML").uncheck()
    page.get_by_label("PDF").uncheck()
    page.get_by_role("checkbox", name=re.compile(r"^CSV")).check()
    page.get_by_role("button", name="Make reports").click()
    page.wait_for_url(STATUS_URL)
    expect(page.locator(".submitted")).to_contain_text("student-0019")
    workers.start()
    expect(page.locator("#summary")).to_have_text("Done: your report is ready.", timeout=DONE_TIMEOUT)
    page.screenshot(path=artifacts / "status-csv.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "status-csv-phone.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV for Excel").click()
    excel = Path(download_info.value.path()).read_bytes()
    example = (ROOT / "examples" / "students.csv").read_bytes()
    assert excel == codecs.BOM_UTF8 + example  # the upload's own export, as it was made


def test_a_pasted_csv_with_mistakes_is_explained_by_row_and_column(app, live_server, page, artifacts):
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON or CSV").fill(
        "student_id;namespace;created_time;unit\nalice;course-1;2024-07-21 03:00;5\nalice;course-1;soon;\n")
    page.get_by_role("button", name="Make reports").click()
    problem = page.locator("#text-errors")
    expect(problem).to_contain_text("Row 3, column unit: the cell is empty")
    expect(problem).to_contain_text("Row 3, column created_time: 'soon' is not an ISO 8601 date-time")
    expect(page.get_by_label("Paste JSON or CSV")).to_have_attribute("aria-invalid", "true")
    assert report_count(app) == 0
    page.screenshot(path=artifacts / "upload-csv-invalid.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "upload-csv-invalid-phone.png", full_page=True)
