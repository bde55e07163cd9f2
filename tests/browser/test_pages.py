"""The pages in real headless Chromium against a live server and a real worker process."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from reportgen.extensions import db
from reportgen.models import Report

from ..support.api import post_json
from ..support.database import report_count
from ..support.payloads import event, sample_students, student
from .conftest import PHONE

pytestmark = pytest.mark.browser

DONE_TIMEOUT = 180_000  # ms: a cold worker renders the PDF on a 2-core machine
STATUS_URL = re.compile(r"/reports/[0-9a-f-]{36}$")


def class_of(count: int, namespace: str = "course-7") -> list[dict]:
    return [
        student(f"learner-{i:02d}", [event(unit, f"2024-07-{10 + unit:02d}T09:{i:02d}:00Z") for unit in (3, 1, 2, 3)],
                namespace=namespace)
        for i in range(count)
    ] + sample_students()


def test_upload_a_file_watch_it_finish_live_then_view_html_and_download_pdf(
        app, live_server, workers, page, artifacts, tmp_path):
    upload = tmp_path / "class-7.json"
    upload.write_text(json.dumps(class_of(6), indent=2), encoding="utf-8")

    page.goto(live_server + "/")
    expect(page).to_have_title("New report · reportgen")
    page.get_by_label("JSON or CSV file").set_input_files(upload)
    expect(page.get_by_label("HTML")).to_be_checked()
    expect(page.get_by_label("PDF")).to_be_checked()
    page.get_by_label("Label (optional)").fill("Class 7, week 3")
    page.screenshot(path=artifacts / "upload.png", full_page=True)
    page.get_by_role("button", name="Make reports").click()

    page.wait_for_url(STATUS_URL)
    expect(page.locator("#summary")).to_contain_text("Queued")  # no worker yet: nothing can be done
    expect(page.get_by_role("heading", name="Class 7, week 3")).to_be_visible()
    expect(page.locator(".submitted")).to_contain_text("learner-05")
    expect(page.locator(".submitted")).to_contain_text("Zoë Дмитрий Ωμέγα")
    page.screenshot(path=artifacts / "status-queued.png", full_page=True)
    page.evaluate("window.__marker = 'still the same page'")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    workers.start()
    try:
        expect(page.locator("#summary")).to_have_text("Done: both reports are ready.", timeout=DONE_TIMEOUT)
    except AssertionError:
        raise AssertionError(f"not done; the worker said:\n{workers.logs()}") from None
    assert page.evaluate("window.__marker") == "still the same page" and navigations == []
    expect(page).to_have_title(re.compile(r"^Ready: Class 7, week 3 · reportgen$"))
    for bar in page.locator("progress").all():
        assert bar.get_attribute("value") == bar.get_attribute("max") == "8"
    expect(page.locator(".report-card").first).to_contain_text("Time taken")
    page.screenshot(path=artifacts / "status-class.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    assert Path(download.path()).read_bytes().startswith(b"%PDF")

    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "status-class-phone.png", full_page=True)
    page.get_by_role("link", name="View HTML").click()
    page.wait_for_url(re.compile(r"/assignment/html/[0-9a-f-]{36}$"))
    expect(page.locator("body")).to_contain_text("learner-03")
    expect(page.locator("body")).to_contain_text("Zoë Дмитрий Ωμέγα")


def test_malformed_file_shows_line_and_column_keeps_choices_and_stores_nothing(app, live_server, page, artifacts):
    page.goto(live_server + "/")
    page.get_by_label("JSON or CSV file").set_input_files({
        "name": "broken.json", "mimeType": "application/json",
        "buffer": b'[{"student_id": "a",\n  "events": [}]\n',
    })
    page.get_by_label("HTML").uncheck()
    page.get_by_label("Label (optional)").fill("Broken one")
    page.get_by_role("button", name="Make reports").click()

    problem = page.locator("#file-errors")
    expect(problem).to_contain_text("broken.json")
    expect(problem).to_contain_text("The JSON can’t be read at line 2, column 14")
    expect(page.get_by_label("JSON or CSV file")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("HTML")).not_to_be_checked()
    expect(page.get_by_label("PDF")).to_be_checked()
    expect(page.get_by_label("Label (optional)")).to_have_value("Broken one")
    expect(page).to_have_title("Problems with your upload · reportgen")
    assert report_count(app) == 0
    page.screenshot(path=artifacts / "upload-invalid.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "upload-invalid-phone.png", full_page=True)


def test_status_page_reloads_itself_without_javascript(app, live_server, workers, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON").fill(json.dumps(sample_students()))
    page.get_by_label("PDF").uncheck()
    page.get_by_role("button", name="Make reports").click()
    page.wait_for_url(STATUS_URL)
    expect(page.locator("#summary")).to_contain_text("Queued")
    workers.start()
    expect(page.get_by_role("link", name="View HTML")).to_be_visible(timeout=DONE_TIMEOUT)


def test_history_filter_finds_a_report_by_student_id(app, live_server, page, artifacts):
    client = app.test_client()
    ids = [post_json(client, f"/assignment/{fmt}", class_of(n, namespace=ns)).get_json()["task_id"]
           for fmt, n, ns in (("pdf", 2, "course-5"), ("html", 3, "course-6"), ("pdf", 1, "course-6"))]
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == ids[0]).values(status="SUCCESS", size=1, sha256="a" * 64))
        db.session.execute(update(Report).where(Report.id == ids[1]).values(status="FAILURE", error="boom"))
        db.session.commit()
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON").fill(json.dumps([student("needle-42", [event(1)], namespace="course-9")]))
    page.get_by_label("Label (optional)").fill("The one to find")
    page.get_by_role("button", name="Make reports").click()
    page.wait_for_url(STATUS_URL)
    wanted = page.url.rsplit("/", 1)[1]

    page.get_by_role("link", name="History").click()
    expect(page).to_have_title("History · reportgen")
    rows = page.locator("ol.uploads > li")
    expect(rows).to_have_count(4)  # three API reports, and one form submission of two formats

    page.get_by_label("Label or student id").fill("EDLE-4")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("needle-42")
    expect(rows.first).to_contain_text("The one to find")
    page.locator(f'a[href="/reports/{wanted}"]').click()
    expect(page.get_by_role("heading", name="The one to find")).to_be_visible()

    page.go_back()
    page.get_by_label("Label or student id").fill("")
    page.get_by_label("Namespace contains").fill("course-6")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(2)


def test_a_failed_report_explains_itself_and_try_again_queues_it_anew(app, live_server, page, artifacts):
    task_id = post_json(app.test_client(), "/assignment/pdf", class_of(2)).get_json()["task_id"]
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == task_id).values(
            status="FAILURE", error="The report could not be rendered: MemoryError: out of memory"))
        db.session.commit()
    page.goto(f"{live_server}/reports/{task_id}")
    expect(page).to_have_title("Failed · reportgen")
    expect(page.locator(".failure")).to_contain_text("This report could not be made.")
    expect(page.locator(".failure")).to_contain_text("MemoryError: out of memory")
    page.screenshot(path=artifacts / "status-failed.png", full_page=True)
    page.get_by_role("button", name="Try again").click()  # a real POST with the page's CSRF token
    page.wait_for_url(STATUS_URL)
    assert not page.url.endswith(task_id)
    expect(page.locator(".flash")).to_have_text("Queued again as a new report.")
    expect(page.locator("#summary")).to_contain_text("Queued")
    assert report_count(app) == 2

    response = page.goto(f"{live_server}/reports/no-such-report")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.screenshot(path=artifacts / "error-404.png", full_page=True)
