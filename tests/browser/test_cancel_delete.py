"""Cancel and Delete on the status page, in real Chromium against a live server: a queued
upload is canceled with one click (no worker runs, so it is still queued), then its data is
deleted behind a disclosure; desktop and phone screenshots under tests/artifacts/."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from ..support.payloads import sample_students
from .conftest import PHONE
from .test_status_history import STATUS_URL, no_page_scroll

pytestmark = pytest.mark.browser


def test_a_queued_upload_is_canceled_then_deleted_from_its_status_page(live_server, new_page, artifacts):
    page = new_page()
    page.goto(live_server + "/")
    page.get_by_label("Paste JSON").fill(json.dumps(sample_students()))
    page.get_by_label("Label (optional)").fill("Week 4: loops")
    page.get_by_role("button", name="Make reports").click()
    page.wait_for_url(STATUS_URL)
    status_url = page.url

    pdf_card = page.locator("article.report-card", has=page.get_by_role("heading", name="PDF report"))
    expect(pdf_card.get_by_role("button", name="Cancel the PDF report")).to_be_visible()
    page.screenshot(path=artifacts / "status-cancel.png", full_page=True)
    with page.expect_navigation():
        pdf_card.get_by_role("button", name="Cancel the PDF report").click()
    expect(page.get_by_role("status").first).to_contain_text("Canceled: nothing more of this report will be made.")
    expect(pdf_card.locator(".badge")).to_have_text("Canceled")
    expect(pdf_card.get_by_role("button", name="Try again")).to_be_visible()

    disclosure = pdf_card.locator("details.discard")
    expect(disclosure.get_by_role("button", name="Delete now")).to_be_hidden()  # one tap never deletes
    disclosure.locator("summary").click()
    expect(disclosure).to_contain_text("deleted now, for good")
    page.screenshot(path=artifacts / "status-delete.png", full_page=True)
    with page.expect_navigation():
        disclosure.get_by_role("button", name="Delete now").click()
    expect(pdf_card).to_contain_text("No longer available")
    expect(pdf_card.get_by_role("button", name="Try again")).to_have_count(0)

    phone = new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(status_url)
    expect(phone.get_by_role("button", name="Cancel the HTML report")).to_be_visible()
    assert no_page_scroll(phone)
    phone.screenshot(path=artifacts / "status-cancel-phone.png", full_page=True)
