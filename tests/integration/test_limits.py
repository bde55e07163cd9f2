"""The cap that bounds a web process's memory: students and events per upload
(REPORTGEN_MAX_UPLOAD_OBJECTS), refused with 413 before the body is parsed, on every submit
path, naming the cap; an upload at the cap is accepted."""
from __future__ import annotations

import json

import pytest

from reportgen.domain.csv_export import render_csv
from reportgen.domain.submission import parse_text

from ..support.api import post_json
from ..support.database import report_count
from ..support.pages import submit_form
from ..support.payloads import event, student


def students(events: int) -> list[dict]:
    return [student("s1", [event(str(n % 3), "2024-07-01T08:00:00Z") for n in range(events)])]


@pytest.fixture
def capped(app):
    app.config["REPORTGEN_MAX_UPLOAD_OBJECTS"] = 10
    return app


@pytest.mark.parametrize("path", ["/assignment/pdf", "/assignment/html", "/assignment/csv", "/assignment/sequence"])
def test_a_json_upload_over_the_cap_is_413_naming_it_and_nothing_is_stored(capped, client, path):
    response = post_json(client, path, students(10))  # the student and 10 events: 11 objects
    assert response.status_code == 413
    body = response.get_json()
    assert body["error"] == "too many students and events"
    assert "at most 10 students and events" in body["details"]["$"]
    assert "REPORTGEN_MAX_UPLOAD_OBJECTS" in body["details"]["$"]
    assert report_count(capped) == 0
    assert post_json(client, path, students(9)).status_code in (200, 202)


def test_a_csv_upload_over_the_cap_is_413_counted_in_rows(capped, client):
    rows = render_csv(parse_text(json.dumps(students(12))))
    response = client.post("/assignment/html", data=rows, content_type="text/csv")
    assert response.status_code == 413
    assert "at most 10 rows" in response.get_json()["details"]["$"]


def test_the_form_says_so_in_plain_words(capped, client):
    page = submit_form(client, text=json.dumps(students(10)), formats=["html"])
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "at most 10 students and events" in text
    assert report_count(capped) == 0
