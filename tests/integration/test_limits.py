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


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_csv_rows_count_the_same_whatever_ends_them(capped, client, ending):
    """The reader splits a row at a lone carriage return as at a line feed: so does the count."""
    def table(rows: int) -> bytes:
        return ending.join(["student_id,unit,created_time",
                            *(f"s1,{n % 3},2024-07-01T08:00:00Z" for n in range(rows)), ""]).encode()

    accepted = client.post("/assignment/sequence", data=table(9), content_type="text/csv")  # the header and 9 rows
    assert accepted.status_code == 200, accepted.get_json()
    assert len(accepted.get_json()["students"][0]["sequence"]) == 9
    refused = client.post("/assignment/html", data=table(10), content_type="text/csv")
    assert refused.status_code == 413
    assert "at most 10 rows" in refused.get_json()["details"]["$"] and "up to 11" in refused.get_json()["details"]["$"]
    assert report_count(capped) == 0


def test_values_beyond_eight_per_object_are_413_naming_the_cap(capped, client):
    """Arrays, strings and numbers cost memory as objects do: 8 per student or event on average."""
    response = post_json(client, "/assignment/sequence", {"student_id": "s", "events": [], "x": [[]] * 40})
    assert response.status_code == 413  # each empty array counts as an array and as an element of x
    assert "at most 80 values" in response.get_json()["details"]["$"]
    assert post_json(client, "/assignment/sequence", {"student_id": "s", "events": [], "x": [[]] * 30}).status_code == 200
