"""Signing in through the real form in Chromium and watching rq-dashboard fill its queue table."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..support.api import post_json
from ..support.payloads import sample_students
from ..support.processes import TEST_QUEUE

pytestmark = pytest.mark.browser

PASSWORD = "a browser-typed password"


@pytest.fixture
def config(config):
    """The usual test settings plus an operator password, for ``app`` and ``live_server``."""
    return {**config, "REPORTGEN_ADMIN_PASSWORD": PASSWORD}


def test_sign_in_in_the_browser_then_the_dashboard_lists_our_queue(app, live_server, page, artifacts):
    task_id = post_json(app.test_client(), "/assignment/pdf", sample_students()).get_json()["task_id"]

    page.goto(live_server + "/rq/")
    page.wait_for_url(re.compile(r"/signin\?next=/rq/$"))
    expect(page).to_have_title("Operator sign-in · reportgen")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That password is not right.")
    page.screenshot(path=artifacts / "signin-refused.png", full_page=True)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/rq/")
    row = page.locator("tr[data-role=queue]", has_text=TEST_QUEUE)
    expect(row).to_be_visible()  # the dashboard's script filled the table from queues.json
    expect(row.locator("td").nth(1)).to_have_text("1")
    page.screenshot(path=artifacts / "dashboard.png", full_page=True)

    row.locator("td").nth(1).get_by_role("link").click()
    expect(page.locator("tr[data-role=job]", has_text=f"{task_id}-c0")).to_be_visible()
    expect(page.locator("tr[data-role=job]", has_text=f"{task_id}-c0")).to_contain_text("render students")
