"""The status page's links to each student's document and the ZIP, history grouped by upload
and searched by label, and no sideways scrolling of the page itself on a phone; in real
Chromium against a live server and a real worker, screenshots under tests/artifacts/."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from reportgen.extensions import db
from reportgen.models import Report

from ..support.payloads import event, student
from .conftest import PHONE

pytestmark = pytest.mark.browser

DONE_TIMEOUT = 180_000  # ms: a cold worker renders the PDF on a 2-core machine
STATUS_URL = re.compile(r"/reports/[0-9a-f-]{36}$")
LONG_ID = "s-" + "long-student-id-" * 12


def no_page_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def students() -> list[dict]:
    times = [f"2024-07-01T09:{minute:02d}:00Z" for minute in range(12)]
    types = ["saved_code", "submitted", "ran_tests", "opened_hint"]
    return [
        student("alice", [event(unit, time, types[i % 4]) for i, (unit, time) in enumerate(zip((1, 2, 1, 3, 2, 1), times))]),
        student("王小明", [event(2, times[0]), event(3, times[1], "submitted")]),
        student(LONG_ID, [event(1, times[2]), event(2, times[3], "ran_tests"), event(4, times[4], "opened_hint")]),
    ]


def make_reports(page, live_server, payload, label: str, formats=("HTML", "PDF")) -> str:
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON").fill(json.dumps(payload))
    for name in ("HTML", "PDF", "CSV"):
        box = page.locator(f'input[name="formats"][value="{name.lower()}"]')
        box.check() if name in formats else box.uncheck()
    page.get_by_label("Label (optional)").fill(label)
    page.get_by_role("button", name="Make reports").click()
    page.wait_for_url(STATUS_URL)
    return page.url


def test_status_page_links_each_student_and_the_zip_and_fits_a_phone(app, live_server, workers, page, artifacts):
    make_reports(page, live_server, students(), "Week 3: fractions")
    workers.start()
    try:
        expect(page.locator("#summary")).to_have_text("Done: both reports are ready.", timeout=DONE_TIMEOUT)
    except AssertionError:
        raise AssertionError(f"not done; the worker said:\n{workers.logs()}") from None
    expect(page.locator("#no-worker")).to_be_hidden()

    chips = page.locator("#students .chips a")
    expect(chips).to_have_count(3)  # swapped in by the page's script when the reports finished
    expect(page.locator(".chips-hint")).to_have_text("Each id opens that student's own page.")
    for chip in chips.all():  # a long id ends inside its chip, not past the card
        box, card = chip.bounding_box(), page.locator("section.submitted").bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"]
    page.screenshot(path=artifacts / "status.png", full_page=True)

    for position, expected in enumerate(("alice", "王小明", LONG_ID)):
        href = chips.nth(position).get_attribute("href")
        assert href.endswith(f"/students/{position}")
        response = page.request.get(live_server + href)
        assert response.status == 200 and response.headers["content-type"].startswith("text/html")
        body = response.text()
        assert expected in body and all(other not in body for other in ("alice", "王小明") if other != expected)

    zips = page.get_by_role("link", name=re.compile(r"^Download all \(ZIP\)"))
    expect(zips).to_have_count(2)
    for link, extension, magic in zip(zips.all(), ("html", "pdf"), (b"<!DOCTYPE html>", b"%PDF")):
        response = page.request.get(live_server + link.get_attribute("href"))
        assert response.status == 200 and response.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.body()))
        names = archive.namelist()
        assert len(names) == 3 and names[1].startswith("0002-王小明-") and names[1].endswith(f".{extension}")
        assert all(archive.read(name).lstrip().startswith(magic) for name in names)
    with page.expect_download() as download_info:
        zips.nth(1).click()
    assert re.fullmatch(r"report-3-students-[0-9a-f]{8}-pdf\.zip", download_info.value.suggested_filename)

    chips.first.click()
    page.wait_for_url(re.compile(r"/students/0$"))
    expect(page.locator("body")).to_contain_text("alice")
    page.go_back()

    page.set_viewport_size(PHONE)
    page.reload()
    assert no_page_scroll(page), "the status page scrolls sideways on a phone"
    page.screenshot(path=artifacts / "status-phone.png", full_page=True)

    page.get_by_role("link", name="View HTML").click()
    page.wait_for_url(re.compile(r"/assignment/html/[0-9a-f-]{36}$"))
    assert no_page_scroll(page), "the HTML report scrolls sideways on a phone"
    units = page.locator("section.student").first.locator(".table-wrap").first
    units.scroll_into_view_if_needed()
    assert units.evaluate("box => box.scrollWidth > box.clientWidth"), "the table should scroll inside its box"
    hint = page.locator("section.student").first.locator(".scroll-hint").first
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("sideways")
    page.evaluate("window.scrollBy(0, -60)")
    page.screenshot(path=artifacts / "report-phone-table.png")
    units.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    assert no_page_scroll(page)


def test_a_queued_report_says_no_worker_is_running(app, live_server, page):
    url = make_reports(page, live_server, students()[:1], "Nobody home", formats=("HTML",))
    task_id = url.rsplit("/", 1)[1]
    expect(page.locator("#no-worker")).to_be_hidden()  # just submitted: a worker may still come
    with app.app_context():
        db.session.query(Report).filter(Report.id == task_id).update(
            {"created_at": datetime.now(timezone.utc) - timedelta(seconds=30)})
        db.session.commit()
    expect(page.locator("#no-worker")).to_be_visible(timeout=15_000)  # the polling page notices
    expect(page.locator("#no-worker")).to_contain_text("No worker is running, so this report is waiting.")


def add_uploads(app, count: int) -> None:
    """``count`` finished uploads of three formats each, a minute apart, as rows."""
    now = datetime.now(timezone.utc)
    with app.app_context():
        for number in range(count):
            for report_format in ("html", "pdf", "csv"):
                db.session.add(Report(
                    format=report_format, status="SUCCESS", student_count=3, event_count=30,
                    student_ids=[f"learner-{number:02d}-{i}" for i in range(3)], namespaces=["course-7"],
                    progress_current=3, progress_total=3, attempts=1, size=1000, sha256="a" * 64,
                    label=f"Class 7, week {number}", submission_id=f"upload-{number:02d}",
                    created_at=now - timedelta(minutes=60 - number)))
        db.session.commit()


def test_history_is_one_row_per_upload_searchable_by_label_and_compact_on_a_phone(
        app, live_server, workers, page, artifacts):
    uploads = [make_reports(page, live_server, students()[:2], "Week 3: fractions", formats=("HTML", "CSV")),
               make_reports(page, live_server, students()[2:], "Week 4: decimals", formats=("HTML", "CSV"))]
    page.goto(live_server + "/reports")
    rows = page.locator("ol.uploads > li")
    expect(rows).to_have_count(2)  # two uploads of two formats each: two rows
    workers.start()
    for url in uploads:
        page.goto(url)
        expect(page.locator("#summary")).to_have_text("Done: both reports are ready.", timeout=DONE_TIMEOUT)
    page.goto(live_server + "/reports")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Week 4: decimals")
    expect(rows.first.get_by_role("link", name="View HTML")).to_be_visible()
    expect(rows.first.locator("time")).to_have_text(re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d\d:\d\d$"))
    page.screenshot(path=artifacts / "history.png", full_page=True)

    page.get_by_label("Label or student id").fill("FRACTIONS")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Week 3: fractions")
    expect(page.locator("p[role=status]")).to_contain_text("1 upload matches")
    page.get_by_label("Label or student id").fill("王小明")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Week 3: fractions")
    rows.first.get_by_role("link", name="Week 3: fractions").click()
    expect(page.get_by_role("heading", name="Week 3: fractions")).to_be_visible()

    add_uploads(app, 18)
    page.set_viewport_size(PHONE)
    page.goto(live_server + "/reports")
    expect(rows).to_have_count(20)
    assert no_page_scroll(page), "history scrolls sideways on a phone"
    for stamp in rows.locator("time").all()[:3]:  # a date on one line
        assert stamp.evaluate("node => node.getClientRects().length") == 1
    height = page.evaluate("document.scrollingElement.scrollHeight")
    print(f"history on a 390x844 phone, 20 uploads: {height} px")
    assert height < 4000, f"history is {height} px long on a phone for 20 uploads"
    page.screenshot(path=artifacts / "history-phone.png", full_page=True)
