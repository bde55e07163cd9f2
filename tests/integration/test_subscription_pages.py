"""The class page's subscriptions and roster: a form (with its CSRF token) to subscribe, change,
pause, send now and delete, the roster uploaded as CSV, problems shown under their fields and
nothing stored; the students table with names, sortable by name."""
from __future__ import annotations

import io

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from ..support.api import post_json
from ..support.pages import csrf_token
from ..support.payloads import event, student

PAGE = "/classes/python-101"


def make_class(client):
    students = [student(sid, [event(1, "2024-11-04T10:00:00Z")], "python-101") for sid in ("s-001", "s-002", "s-003")]
    assert post_json(client, "/namespaces/python-101/events", students).status_code == 200


def post(client, path: str, fields: list[tuple[str, str]]):
    from urllib.parse import urlencode

    return client.post(path, data=urlencode([*fields, ("csrf_token", csrf_token(client, PAGE))]),
                       content_type="application/x-www-form-urlencoded")


SUBSCRIPTION = [("every", "month"), ("day", "1"), ("time", "07:00"), ("formats", "pdf"),
                ("recipients", "teacher@school.example, head@school.example"), ("students", "y"),
                ("skip_if_empty", "y")]


def test_a_subscription_is_made_paused_sent_now_and_listed_with_its_last_run(app):
    client = app.test_client()
    make_class(client)
    created = post(client, f"{PAGE}/subscriptions", SUBSCRIPTION)
    assert created.status_code == 303
    page = client.get(PAGE).get_data(as_text=True)
    assert "month, day 1 at 07:00" in page and "PDF to 2 addresses, and each student their own" in page
    subscription = client.get("/subscriptions").get_json()["subscriptions"][0]
    assert subscription["recipients"] == ["teacher@school.example", "head@school.example"]
    assert post(client, f"{PAGE}/subscriptions/{subscription['id']}/pause", []).status_code == 303
    assert "Paused" in client.get(PAGE).get_data(as_text=True)
    assert post(client, f"{PAGE}/subscriptions/{subscription['id']}/run", []).status_code == 303
    page = client.get(PAGE).get_data(as_text=True)
    assert ": <strong>queued</strong>" in page
    again = post(client, f"{PAGE}/subscriptions/{subscription['id']}/run", [])
    assert "was made already" in client.get(again.headers["Location"]).get_data(as_text=True)
    edit = client.get(f"{PAGE}/subscriptions/{subscription['id']}")
    assert edit.status_code == 200 and "teacher@school.example" in edit.get_data(as_text=True)
    weekly = [(key, value) for key, value in SUBSCRIPTION if key not in ("every", "day")] + [("every", "week"), ("day", "5")]
    assert post(client, f"{PAGE}/subscriptions/{subscription['id']}", weekly).status_code == 303
    assert client.get(f"/subscriptions/{subscription['id']}").get_json()["every"] == "week"
    assert post(client, f"{PAGE}/subscriptions/{subscription['id']}/delete", []).status_code == 303
    assert client.get("/subscriptions").get_json()["subscriptions"] == []


def test_a_bad_subscription_form_shows_each_problem_under_its_field_and_stores_nothing(app):
    client = app.test_client()
    make_class(client)
    bad = [(key, value) for key, value in SUBSCRIPTION if key not in ("day", "time", "recipients")] + [
        ("day", "32"), ("time", "25:00"), ("recipients", "teacher@school.example, not-an-address")]
    response = post(client, f"{PAGE}/subscriptions", bad)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="day-errors"' in page and 'id="time-errors"' in page and "recipients[1]" in page
    assert client.get("/subscriptions").get_json()["subscriptions"] == []
    assert post(client, f"{PAGE}/subscriptions", SUBSCRIPTION[:0] + [("every", "month")]).status_code == 400
    tokenless = client.post(f"{PAGE}/subscriptions", data=dict(SUBSCRIPTION))
    assert tokenless.status_code == 400 and client.get("/subscriptions").get_json()["subscriptions"] == []


def upload_roster(client, content: bytes):
    fields = MultiDict([("csrf_token", csrf_token(client, PAGE)),
                        ("file", FileStorage(io.BytesIO(content), filename="roster.csv", content_type="text/csv"))])
    boundary, body = encode_multipart(fields)
    return client.post(f"{PAGE}/roster", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_a_roster_csv_uploaded_on_the_page_names_the_students_who_sort_by_name(app):
    client = app.test_client()
    make_class(client)
    assert upload_roster(client, "student_id,name,email\ns-001,Zoë Zimmer,z@pupils.example\ns-002,أمينة حداد,\n"
                                 "s-003,Ada Lovelace,\n".encode()).status_code == 303
    page = client.get(PAGE).get_data(as_text=True)
    assert "The roster has 3 students, 1 with an address." in page
    assert "<bdi>Zoë Zimmer</bdi> · <bdi>s-001</bdi>" in page
    by_name = client.get(f"{PAGE}?sort=name").get_data(as_text=True)
    assert by_name.index("Ada Lovelace") < by_name.index("Zoë Zimmer") < by_name.index("أمينة حداد")
    refused = upload_roster(client, b"student_id,name\ns-001,=cmd|' /C calc'!A0\n")
    assert refused.status_code == 400 and "row 2, column name" in refused.get_data(as_text=True)
    assert "The roster has 3 students" in refused.get_data(as_text=True)
