"""Data from where it lives (issue 21): xAPI statements, a Moodle log download and Caliper events
through the API, the sequence endpoint and the upload form, rendered by real workers; the status
and the report say what was read; bad and hostile files are a clear 4xx with nothing stored."""
import json
from pathlib import Path

import pytest

from ..support.api import post_json, status
from ..support.database import report_count
from ..support.pages import block, submit_form
from ..support import class_forms

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MOODLE_LOG = (FIXTURES / "moodle" / "course_log.csv").read_bytes()


def post(client, url: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return client.post(url, data=data, content_type=content_type)


def statement(actor=None, unit="https://lms.example.org/mod/view.php?id=1", **extra) -> dict:
    return {"actor": actor if actor is not None else {"mbox": "mailto:ana@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, "object": {"id": unit},
            "timestamp": "2024-07-21T10:00:00Z", **extra}


def test_an_lrs_export_becomes_a_report_that_names_units_students_and_what_was_read(app, client, run_worker):
    spec = json.loads((FIXTURES / "xapi" / "spec_appendix_a.json").read_bytes())
    group = next(s for s in spec if s["actor"].get("objectType") == "Group")
    response = post(client, "/assignment/html", [*class_forms.as_xapi(), group])
    assert response.status_code == 202, response.get_json()
    read = response.get_json()["input"]
    statements = len(class_forms.events())
    assert read == {"format": "xapi", "records": "statements", "read": statements + 1, "used": statements,
                    "skipped": 1, "skipped_because": {"a group as actor": 1}}
    run_worker()
    finished = status(client, "html", response.get_json()["task_id"])
    assert finished["status"] == "SUCCESS" and finished["input"] == read
    assert finished["options"]["unit_names"]["PY101"][f"{class_forms.HOME}/mod/view.php?id=101"] == "Quiz: Week 3 quiz"
    page = client.get(f"/assignment/html/{finished['task_id']}").get_data(as_text=True)
    assert "Quiz: Week 3 quiz" in page and "أميرة حداد" in page and "สมชาย ใจดี" in page
    assert (f"Data: xAPI statements, {statements + 1:,} statements read, {statements:,} used, 1 skipped "
            "(a group as actor: 1)") in page


def test_a_moodle_log_is_read_in_the_time_zone_given_and_a_teacher_left_out(app, client, run_worker):
    response = post(client, "/assignment/pdf?timezone=Europe/Berlin&exclude_users=2", MOODLE_LOG, "text/csv")
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["input"]["skipped_because"] == {"a user left out by exclude_users": 1}
    assert response.get_json()["student_count"] == 3
    run_worker()
    task_id = response.get_json()["task_id"]
    assert status(client, "pdf", task_id)["status"] == "SUCCESS"
    pdf = client.get(f"/assignment/pdf/{task_id}").data
    from ..support.pdf import pdf_pages
    text = "\n".join(pdf_pages(pdf))
    assert "Amira Haddad" in text and "Quiz: Week 3 quiz" in text
    assert "Data: Moodle log (CSV), 10 rows read, 9 used, 1 skipped" in text


def test_the_sequence_endpoint_takes_caliper_and_says_what_it_read(client):
    body = json.loads((FIXTURES / "caliper" / "spec_mixed_payload.json").read_bytes())
    response = post(client, "/assignment/sequence?metrics=1", body)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["input"]["format"] == "caliper" and answer["input"]["used"] == 2
    assert answer["students"][0]["sequence"] == ["Q1", "Q1"]
    assert answer["options"]["unit_names"] == {
        "https://example.edu/terms/201801/courses/7/sections/1": {
            "https://example.edu/terms/201801/courses/7/sections/1/assess/1?ver=v1p0": "Quiz One"}}


def test_the_same_class_from_every_platform_answers_the_same_sequences(client):
    answers = []
    for url, body, content_type in (
            ("/assignment/sequence", class_forms.encoded(class_forms.as_reportgen()), "application/json"),
            ("/assignment/sequence", class_forms.encoded(class_forms.as_xapi()), "application/json"),
            ("/assignment/sequence?timezone=Europe/Berlin", class_forms.as_moodle(), "text/csv"),
            ("/assignment/sequence", class_forms.encoded(class_forms.as_caliper()), "application/json")):
        response = post(client, url, body, content_type)
        assert response.status_code == 200, response.get_json()
        answers.append(sorted(student["sequence"] for student in response.get_json()["students"]))
    assert answers[1:] == answers[:1] * 3


def test_input_names_the_format_and_overrides_what_the_content_looks_like(app, client):
    xapi = [statement()]
    as_caliper = post(client, "/assignment/sequence?input=caliper", xapi)
    assert as_caliper.status_code == 400
    assert as_caliper.get_json()["details"] == {"$": "None of the 1 events could be used, so there is nothing to "
                                                     "report on; skipped: an entity description, not an event: 1"}
    assert post(client, "/assignment/sequence?input=xapi", xapi).status_code == 200
    assert post(client, "/assignment/sequence?input=auto", xapi).get_json()["input"]["format"] == "xapi"
    unknown = post(client, "/assignment/html?input=scorm", xapi)
    assert unknown.status_code == 400
    assert unknown.get_json()["details"] == {"input": "must be one of auto, reportgen, xapi, moodle, caliper, not "
                                                      "'scorm'"}
    zone = post(client, "/assignment/html?timezone=Mars/Olympus", MOODLE_LOG, "text/csv")
    assert zone.status_code == 400 and list(zone.get_json()["details"]) == ["timezone"]
    assert report_count(app) == 0


def test_problems_are_named_by_statement_and_row_and_nothing_is_stored(app, client):
    statements = [statement() for _ in range(11)] + [statement(actor={"name": "Somebody"})]
    response = post(client, "/assignment/html", statements)
    assert response.status_code == 400
    assert response.get_json()["details"] == {"statement 12": "the actor has no account, mbox, mbox_sha1sum or openid"}
    log = MOODLE_LOG.decode("utf-8-sig").split("\n")
    log[6] = log[6].replace('"21/10/24, 11:05:00"', '"31/02/24, 11:05:00"')
    response = post(client, "/assignment/pdf", "\n".join(log).encode(), "text/csv")
    assert response.status_code == 400
    assert response.get_json()["details"] == {"row 7, column Time": "'31/02/24, 11:05:00' is not a date "
                                                                    "(day/month/year)"}
    assert report_count(app) == 0


@pytest.mark.parametrize("name, body, content_type, code", [
    ("a statement nested 10,000 deep", '[{"actor": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001 + "]",
     "application/json", 400),
    ("200,000 statements without actors",
     "[" + ",".join(['{"verb":{"id":"v"},"object":{"id":"o"}}'] * 200_000) + "]", "application/json", 413),
    ("a Moodle log with 10,000 columns",
     ",".join(["Time", *(f"c{i}" for i in range(9_999))]) + "\n" + ",".join(["x"] * 10_000) + "\n", "text/csv",
     400),
    ("a date in year 0", "Time,User full name,Event context,Event name,Description\n"
     "\"1/01/0000, 10:00:00\",Ana,Quiz: Q,viewed,The user with id '5' viewed course module id '1'.\n", "text/csv",
     400),
    ("a date in year 99999", json.dumps([statement(timestamp="99999-01-01T00:00:00Z")]), "application/json", 400),
    ("Latin-1 bytes", json.dumps([statement(actor={"mbox": "mailto:jose@example.org", "name": "José"})],
                                 ensure_ascii=False).encode("latin-1"), "application/json", 400),
    ("Latin-1 bytes in a Moodle log", MOODLE_LOG.decode("utf-8-sig").replace("Noa Levi", "Noé Lévi").encode("latin-1"),
     "text/csv", 400),
])
def test_hostile_files_are_a_clear_4xx_and_nothing_is_stored(app, client, name, body, content_type, code):
    response = post(client, "/assignment/html" + ("?input=moodle" if content_type == "text/csv" else ""), body,
                    content_type)
    assert response.status_code == code, (name, response.get_json())
    assert response.get_json()["error"] and response.get_json().get("details")
    assert report_count(app) == 0


def test_a_byte_order_mark_is_welcome(client):
    body = b"\xef\xbb\xbf" + json.dumps([statement()]).encode()
    assert post(client, "/assignment/sequence", body).status_code == 200


def test_the_form_reads_a_moodle_log_with_its_time_zone_and_the_status_page_says_what_was_read(app, client):
    response = submit_form(client, file=("logs_PY101_20241022.csv", MOODLE_LOG), formats=["html"],
                           options=[("input_format", "auto"), ("day_first", "true"), ("timezone", "Europe/Berlin"),
                                    ("exclude_users", "Teacher Tom")])
    assert response.status_code == 303, block(response.get_data(as_text=True), "file-errors")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ("Data: Moodle log (CSV), 10 rows read, 9 used, 1 skipped (a user left out by exclude_users: 1)"
            in page)
    assert report_count(app) == 1


def test_the_form_names_problems_by_statement_in_plain_words_and_a_bad_time_zone_by_its_field(app, client):
    statements = [statement() for _ in range(11)] + [statement(actor={"name": "Somebody"})]
    response = submit_form(client, text=json.dumps(statements), formats=["html"],
                           options=[("input_format", "xapi")])
    assert response.status_code == 400
    assert "Statement 12: the actor has no account, mbox, mbox_sha1sum or openid" in block(
        response.get_data(as_text=True), "text-errors")
    response = submit_form(client, file=("log.csv", MOODLE_LOG), formats=["html"],
                           options=[("timezone", "Mars/Olympus")])
    assert response.status_code == 400
    assert "Use a time zone name like Europe/Berlin or UTC" in block(response.get_data(as_text=True),
                                                                    "timezone-errors")
    assert report_count(app) == 0


def test_reportgen_uploads_say_they_were_read_as_such(client):
    response = post_json(client, "/assignment/html", [{"student_id": "a", "events": [{"unit": 1}, {"unit": 2}]}])
    assert response.get_json()["input"] == {"format": "reportgen", "records": "events", "read": 2, "used": 2,
                                            "skipped": 0, "skipped_because": {}}


def test_flask_render_reads_a_moodle_log_too(runner, tmp_path):
    output = tmp_path / "log.csv"
    result = runner.invoke(args=["render", str(FIXTURES / "moodle" / "course_log.csv"), "--format", "csv",
                                 "-o", str(output), "--timezone", "Europe/Berlin", "--exclude-users", "2"])
    assert result.exit_code == 0, result.output
    rows = output.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("student_id,namespace,position,") and len(rows) == 1 + 9
    assert "2024-10-21T08:00:05" in output.read_text(encoding="utf-8")  # 10:00:05 in Berlin, summer time
    bad = runner.invoke(args=["render", str(FIXTURES / "moodle" / "course_log.csv"), "-o", str(output),
                              "--timezone", "Mars/Olympus"])
    assert bad.exit_code == 2 and "timezone" in bad.output


def test_a_class_history_takes_an_lrs_export_and_a_moodle_log_as_they_are(app, client):
    """The append endpoint reads what every submit reads: xAPI statements of course PY101 go into
    that class as they are, once however often they are sent, and a Moodle log of it adds its own."""
    statements = class_forms.as_xapi()
    first = post(client, f"/namespaces/{class_forms.COURSE}/events", statements)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["added"] == len(class_forms.events()) and first.get_json()["duplicates"] == 0
    again = post(client, f"/namespaces/{class_forms.COURSE}/events", statements).get_json()
    assert (again["added"], again["duplicates"]) == (0, len(class_forms.events()))
    moodle = post(client, f"/namespaces/{class_forms.COURSE}/events?timezone=Europe/Berlin", MOODLE_LOG, "text/csv")
    assert moodle.status_code == 200, moodle.get_json()
    assert moodle.get_json()["received"] == 10 and moodle.get_json()["added"] >= 1
    listed = client.get(f"/namespaces/{class_forms.COURSE}").get_json()
    assert listed["events"] == first.get_json()["added"] + moodle.get_json()["added"]
