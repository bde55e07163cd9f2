"""Rosters: names and addresses for a class's student ids, stored whole, shown in its reports
with the ids, refused whole when any cell is bad, erased with the class; PostgreSQL and SQLite."""
from __future__ import annotations

import pytest

from ..support.api import post_json
from ..support.payloads import event, student


def append(client, students, namespace="python-101"):
    response = post_json(client, f"/namespaces/{namespace}/events", students)
    assert response.status_code == 200, response.get_json()


def small_class() -> list[dict]:
    return [student("s-001", [event(1, "2024-11-04T10:00:00Z"), event(2, "2024-11-05T10:00:00Z")], "python-101"),
            student("s-002", [event(1, "2024-11-06T10:00:00Z")], "python-101")]


def test_a_json_roster_replaces_the_last_and_reads_back(any_database_app):
    client = any_database_app.test_client()
    append(client, small_class())
    first = client.put("/namespaces/python-101/roster", json=[
        {"student_id": "s-001", "name": "Ada Lovelace", "email": "ada@example.org"},
        {"student_id": "s-009", "name": "Not yet active"}])
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"namespace": "python-101", "students": 2, "with_name": 2, "with_email": 1}
    client.put("/namespaces/python-101/roster", json=[{"student_id": "s-002", "name": "أمينة حداد"}])
    assert client.get("/namespaces/python-101/roster").get_json()["roster"] == [
        {"student_id": "s-002", "name": "أمينة حداد", "email": None}]


def test_a_csv_roster_is_read_and_given_back_as_csv(any_database_app):
    client = any_database_app.test_client()
    append(client, small_class())
    body = "student_id,name,email\r\ns-001,Ada Lovelace,ada@example.org\r\n-5,Minus Five,\r\n"
    response = client.put("/namespaces/python-101/roster", data=body.encode(), content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    csv_text = client.get("/namespaces/python-101/roster?format=csv").get_data(as_text=True)
    assert "s-001,Ada Lovelace,ada@example.org" in csv_text
    assert "'-5,Minus Five," in csv_text  # neutralised on the way out, as every CSV of ours


@pytest.mark.parametrize("body, content_type, path", [
    ("student_id,name\r\ns-001,=HYPERLINK(\"http://evil\")\r\n", "text/csv", "row 2, column name"),
    ("student_id,name,email\r\ns-001,Ada,@evil\r\n", "text/csv", "row 2, column email"),
    ("name\r\nAda\r\n", "text/csv", "row 1"),
    ('[{"student_id": "s-001", "email": "a@example.org\\r\\nBcc: x@evil.org"}]', "application/json", "[0].email"),
    ('[{"student_id": "s-001"}, {"student_id": "s-001"}]', "application/json", "[1].student_id"),
    ('[{"student_id": "s-001", "role": "x"}]', "application/json", "[0].role"),
    ('{"student_id": "s-001"}', "application/json", "$"),
    ("[" + ",".join(['{"student_id": "x"}'] * 10_001) + "]", "application/json", "$"),
])
def test_a_hostile_roster_gets_a_clear_400_naming_the_cell_and_stores_nothing(any_database_app, body, content_type,
                                                                                path):
    client = any_database_app.test_client()
    append(client, small_class())
    client.put("/namespaces/python-101/roster", json=[{"student_id": "s-002", "name": "Kept"}])
    response = client.put("/namespaces/python-101/roster", data=body.encode(), content_type=content_type)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert path in response.get_json()["details"], response.get_json()
    assert client.get("/namespaces/python-101/roster").get_json()["roster"] == [
        {"student_id": "s-002", "name": "Kept", "email": None}]


def test_a_roster_in_another_type_is_415_and_of_an_unknown_class_404(any_database_app):
    client = any_database_app.test_client()
    append(client, small_class())
    assert client.put("/namespaces/python-101/roster", data=b"x", content_type="text/plain").status_code == 415
    assert client.put("/namespaces/nobody/roster", json=[]).status_code == 404


def test_a_roster_of_1000_names_stores_and_is_erased_with_its_class(any_database_app):
    client = any_database_app.test_client()
    append(client, small_class())
    roster = [{"student_id": f"s-{number:04d}", "name": f"Student {number}", "email": f"s{number}@example.org"}
              for number in range(1000)]
    assert client.put("/namespaces/python-101/roster", json=roster).get_json()["with_email"] == 1000
    assert len(client.get("/namespaces/python-101/roster").get_json()["roster"]) == 1000
    assert client.delete("/namespaces/python-101").status_code == 200
    append(client, small_class())  # the same namespace again is a new class, with no roster
    assert client.get("/namespaces/python-101/roster").get_json()["roster"] == []


def test_the_reports_show_each_roster_name_with_its_id_in_html_csv_and_json(app, run_worker):
    """The PDF's names, non-Latin scripts included, are read in test_subscription_runs (the class
    PDF a teacher is emailed); here the HTML, the CSV's students table and the JSON metadata."""
    client = app.test_client()
    names = [("s-001", "Ada Lovelace"), ("s-002", "أمينة حداد"), ("s-003", "דוד לוי"), ("s-004", "王小明"),
             ("s-005", "अनन्या शर्मा"), ("s-006", "สมชาย ใจดี")]
    append(client, [student(sid, [event(1, "2024-11-04T10:00:00Z"), event(2, "2024-11-05T11:00:00Z")], "python-101")
                    for sid, _ in names])
    client.put("/namespaces/python-101/roster", json=[{"student_id": sid, "name": name} for sid, name in names])
    tasks = {fmt: post_json(client, f"/assignment/{fmt}", {"namespace": "python-101", "period": "2024-11"})
             .get_json()["task_id"] for fmt in ("html", "csv")}
    run_worker()
    metadata = client.get(f"/assignment/csv/{tasks['csv']}", headers={"Accept": "application/json"}).get_json()
    assert metadata["status"] == "SUCCESS"
    assert metadata["options"]["student_names"]["python-101"] == dict(names)
    html = client.get(f"/assignment/html/{tasks['html']}").get_data(as_text=True)
    for sid, name in names:
        assert name in html and sid in html
    table = client.get(f"/assignment/csv/{tasks['csv']}?table=students").get_data(as_text=True).splitlines()
    assert table[0].endswith(",distance_from_class,name")
    assert [row.rsplit(",", 1)[1] for row in table[1:]] == [name for _, name in names]
