"""The class pages in real headless Chromium: the Classes item, a class with students named in
five scripts, its months, adding events, a month's report, the time zone, erasing a student
behind a confirmation, and the upload form's keep box."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from ..support.payloads import event, student
from .conftest import PHONE

pytestmark = pytest.mark.browser

NAMES = ["ليلى", "נועה", "李明", "अनन्या", "สมชาย"]


def world_class() -> list[dict]:
    return [student(name, [event(1, "2024-11-30T23:30:00Z"), event(2, "2024-12-02T10:00:00Z"),
                           event(1 + number % 3, f"2024-10-{10 + number:02d}T09:00:00Z")], "world-101")
            for number, name in enumerate(NAMES)]


def page_scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def test_a_class_page_adds_events_makes_a_month_report_sets_the_zone_and_erases_a_student(
        app, live_server, page, artifacts):
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON or CSV").fill(json.dumps(world_class(), ensure_ascii=False))
    keep = page.get_by_label("Keep these events in the class history")
    expect(keep).not_to_be_checked()
    keep.check()
    page.get_by_role("button", name="Make reports").click()
    expect(page).to_have_url(re.compile(r"/reports/[0-9a-f-]{36}$"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Classes").click()
    expect(page.get_by_role("link", name="world-101")).to_be_visible()
    page.get_by_role("link", name="world-101").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("world-101")
    expect(page.locator(".lead")).to_contain_text("5 students, 15 events")
    expect(page.locator(".month-list li")).to_have_text(["2024-12 5", "2024-11 5", "2024-10 5"])
    for name in NAMES:
        expect(page.get_by_role("row", name=re.compile(name))).to_be_visible()

    page.get_by_label("Paste JSON or CSV").fill(json.dumps([student(NAMES[0], [event(9, "2024-12-20T08:00:00Z")], "world-101")],
                                                           ensure_ascii=False))
    page.get_by_role("button", name="Add events").click()
    expect(page.locator(".flash")).to_have_text("Added 1 events (0 were stored already).")
    page.get_by_label("Paste JSON or CSV").fill('[{"student_id": "x", "namespace": "other", "events": []}]')
    page.get_by_role("button", name="Add events").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was stored")

    page.get_by_role("combobox", name="Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Save the time zone").click()
    expect(page.locator(".flash")).to_contain_text("Europe/Berlin")
    expect(page.locator(".month-list li")).to_have_text(["2024-12 11", "2024-11 0", "2024-10 5"])  # 23:30 UTC 30 Nov is December
    page.screenshot(path=artifacts / "class-page.png", full_page=True)
    page.set_viewport_size(PHONE)
    assert not page_scrolls_sideways(page)
    page.screenshot(path=artifacts / "class-page-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name=f"Erase {NAMES[1]}’s events").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Erase {NAMES[1]}’s events?")
    page.screenshot(path=artifacts / "class-erase-confirm.png", full_page=True)
    page.get_by_role("button", name=f"Erase {NAMES[1]}’s events").click()
    expect(page.locator(".flash")).to_have_text(f"Erased {NAMES[1]}: 3 stored events.")
    expect(page.get_by_role("row", name=re.compile(NAMES[1]))).to_have_count(0)

    page.get_by_label("Make a report for").select_option("2024-12")
    page.get_by_role("button", name="Make reports").click()
    expect(page).to_have_url(re.compile(r"/reports/[0-9a-f-]{36}$"))
    expect(page.locator("body")).to_contain_text("world-101 · December 2024 (Europe/Berlin)")

    page.goto(live_server + "/classes")
    page.screenshot(path=artifacts / "classes.png", full_page=True)
    page.set_viewport_size(PHONE)
    assert not page_scrolls_sideways(page)
    page.screenshot(path=artifacts / "classes-phone.png", full_page=True)


def test_a_class_form_without_its_token_is_refused_and_changes_nothing(app, live_server, page):
    client = app.test_client()
    client.post("/namespaces/world-101/events", json=world_class())
    response = page.request.post(live_server + "/classes/world-101/students/ليلى/erase", form={})
    assert response.status == 400
    assert client.get("/namespaces/world-101").get_json()["students"] == 5
    assert page.request.get(live_server + "/classes/nobody-101").status == 404
