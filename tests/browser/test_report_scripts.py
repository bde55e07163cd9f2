"""The HTML report of a class in seven scripts on a desktop and on a phone (390 px): the class
table's essentials without sideways scrolling, chart text of at least 11 px. Screenshots are
saved under tests/artifacts/ to be looked at."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..support.api import submit
from ..support.payloads import SCRIPT_NAMES, multi_script_class
from .conftest import PHONE

pytestmark = pytest.mark.browser

#: The smallest chart text a phone may show, in CSS pixels.
SMALLEST_CHART_TEXT = 11

CHART_TEXT_SIZES = """() => [...document.querySelectorAll('figure.chart svg text')].map(
    text => parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a)"""
#: Per class-table row, how far right its name, figures and flags reach, and the wrap's scroll.
CLASS_TABLE = """() => {
    const wrap = document.querySelector('table.overview').closest('.table-wrap');
    const rows = [...document.querySelectorAll('table.overview tbody tr')].map(row =>
        Math.max(...[...row.querySelectorAll('td')].filter(td => td.offsetParent).map(td => td.getBoundingClientRect().right)));
    return {scroll: wrap.scrollWidth, width: wrap.clientWidth, right: Math.max(...rows)};
}"""


def test_the_class_table_and_charts_read_on_a_phone_without_sideways_scrolling(client, live_server, run_worker, page,
                                                                                  artifacts):
    task_id = submit(client, "html", multi_script_class())
    run_worker()

    page.goto(f"{live_server}/assignment/html/{task_id}")
    expect(page.locator("table.overview tbody tr")).to_have_count(len(SCRIPT_NAMES) + 1)
    page.screenshot(path=artifacts / "scripts-class.png")
    page.locator("section.student").first.screenshot(path=artifacts / "scripts-student.png")

    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/assignment/html/{task_id}")
    table = page.evaluate(CLASS_TABLE)
    assert table["scroll"] <= table["width"], f"the class table scrolls sideways at 390 px: {table}"
    assert table["right"] <= PHONE["width"], f"a row of the class table reaches past the screen: {table}"
    first = page.locator("table.overview tbody tr").first
    for label in ("Events", "Time on task", "Revisits"):
        expect(first.locator(f'td[data-label="{label}"]')).to_be_visible()
    expect(first.locator("td.flags-cell")).to_be_visible()
    sizes = page.evaluate(CHART_TEXT_SIZES)
    assert sizes and min(sizes) >= SMALLEST_CHART_TEXT, f"chart text of {min(sizes):.1f} px on a phone"
    page.screenshot(path=artifacts / "scripts-class-phone.png")
    page.locator("section.student").first.screenshot(path=artifacts / "scripts-student-phone.png")
