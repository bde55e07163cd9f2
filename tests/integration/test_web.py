"""The browser pages through Flask's test client: CSRF, validation, status, retry and history.

CSRF stays enabled here (Flask-WTF enforces it under TESTING too), so every form POST first
fetches a page for its token, as a browser would.
"""
import html
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from reportgen import create_app
from reportgen.extensions import db
from reportgen.models import Delivery, Report
from reportgen.render.formats import FORMATS, ReportFormat

from ..support.api import post_json
from ..support.database import all_reports, report_count, stored_upload
from ..support.pages import CSRF_TOKEN as TOKEN
from ..support.pages import block, csrf_token, submit_form
from ..support.payloads import event, sample_students, student


def set_state(app, task_id: str, **values) -> None:
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == task_id).values(**values))
        db.session.commit()


def checked_formats(page: str) -> set[str]:
    return set(re.findall(r'<input checked id="formats-\d+" name="formats" type="checkbox" value="(\w+)"', page))


# --- the upload form ------------------------------------------------------------------------

def test_upload_page_has_labelled_fields_every_format_and_a_title(client, monkeypatch):
    monkeypatch.setitem(FORMATS, "xml", ReportFormat("xml", "XML", "application/xml", inline=False))
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<title>New report · reportgen</title>" in page
    assert 'rel="icon" href="/static/favicon.svg"' in page
    for field in ("file", "text", "label"):
        assert f'<label for="{field}">' in page
    values = re.findall(r'name="formats" type="checkbox" value="(\w+)"', page)
    assert values == list(FORMATS) and "xml" in values  # a new format joins the form by itself
    assert checked_formats(page) == {"html", "pdf"}
    assert TOKEN.search(page)


def test_form_post_without_csrf_token_is_refused_but_the_json_api_needs_none(app, client):
    response = submit_form(client, text=json.dumps(sample_students()), token=False,
                           headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "The form expired" in response.get_data(as_text=True)
    assert report_count(app) == 0
    assert post_json(client, "/assignment/html", sample_students()).status_code == 202
    assert report_count(app) == 1


def test_pasted_json_makes_one_report_per_format_through_the_shared_service(app, client):
    response = submit_form(client, text=json.dumps(sample_students()), formats=["pdf", "html"], label=" Week 3 ")
    assert response.status_code == 303
    reports = all_reports(app)
    assert sorted(r.format for r in reports) == ["html", "pdf"]
    assert response.headers["Location"] == f"/reports/{next(r.id for r in reports if r.format == 'html')}"
    assert {r.submission_id for r in reports} != {None} and len({r.submission_id for r in reports}) == 1
    assert {r.label for r in reports} == {"Week 3"}
    assert {r.status for r in reports} == {"PENDING"}
    api_id = post_json(client, "/assignment/pdf", sample_students()).get_json()["task_id"]
    api = next(r for r in all_reports(app) if r.id == api_id)
    assert (api.label, api.submission_id) == (None, None)
    for report in reports:  # the very rows the API makes
        assert (stored_upload(app, report.id), report.student_ids, report.namespaces, report.student_count,
                report.event_count, report.progress_total) == (
            stored_upload(app, api.id), api.student_ids, api.namespaces, api.student_count, api.event_count,
            api.progress_total)


def test_with_the_queue_down_the_reports_are_stored_as_failed_with_a_way_to_try_again(app, config):
    down = create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    client = down.test_client()
    response = submit_form(client, text=json.dumps(sample_students()))
    assert response.status_code == 303
    assert {(r.format, r.status) for r in all_reports(app)} == {("html", "FAILURE"), ("pdf", "FAILURE")}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "queue was unavailable" in page and page.count(">Try again</button>") == 2
    assert "Both reports failed." in page
    with down.app_context():
        db.engine.dispose()


def test_file_upload_makes_the_reports(app, client):
    response = submit_form(client, file=("students.json", json.dumps(sample_students()).encode()), formats=["html"])
    assert response.status_code == 303
    [report] = all_reports(app)
    assert report.format == "html" and report.student_count == 2


@pytest.mark.parametrize("sources, message", [
    ({}, "Choose a JSON or CSV file, or paste JSON or CSV"),
    ({"text": "   \n"}, "Choose a JSON or CSV file, or paste JSON or CSV"),
    ({"text": "[]", "file": ("a.json", b"[]")}, "not both"),
])
def test_exactly_one_source_is_required(app, client, sources, message):
    response = submit_form(client, **sources)
    assert response.status_code == 400
    assert message in block(response.get_data(as_text=True), "source-errors")
    assert report_count(app) == 0


def test_at_least_one_format_and_a_short_label(app, client):
    page = submit_form(client, text=json.dumps(sample_students()), formats=[], label="x" * 201).get_data(as_text=True)
    assert "Choose at least one format." in block(page, "formats-errors")
    assert "Keep the label to 200 characters at most." in block(page, "label-errors")
    assert report_count(app) == 0


def test_invalid_submission_shows_the_api_facts_in_plain_words_next_to_the_field_and_keeps_choices(app, client):
    bad = sample_students()
    bad[1]["events"][1]["created_time"] = "not a time"
    del bad[0]["student_id"]
    text = json.dumps(bad, indent=2)
    api = post_json(client, "/assignment/pdf", bad).get_json()
    assert sorted(api["details"]) == ["[0].student_id", "[1].events[1].created_time"]
    response = submit_form(client, text=text, formats=["pdf"], label="Week <3>")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = block(page, "text-errors")
    assert "2 problems to fix" in errors
    assert "Student 1: the student id is missing" in errors
    assert ("Student 2 (Zoë Дмитрий Ωμέγα), event 2: the time (created_time) 'not a time' is not an ISO 8601 "
            "date-time") in errors
    assert not any(path in errors for path in api["details"])
    assert 'aria-invalid="true"' in page and 'aria-describedby="text-errors"' in page
    assert checked_formats(page) == {"pdf"}
    assert 'value="Week &lt;3&gt;"' in page
    kept = re.search(r'<textarea[^>]*name="text"[^>]*>\r?\n?(.*?)</textarea>', page, re.S).group(1)
    assert html.unescape(kept) == text and "<" not in kept  # the pasted JSON is kept, escaped
    assert report_count(app) == 0


def test_malformed_file_gives_the_line_and_column_with_the_line_itself(app, client):
    content = b'[{"student_id": "a",\n  "events": [}]'
    response = submit_form(client, file=("broken.json", content))
    assert response.status_code == 400
    errors = block(response.get_data(as_text=True), "file-errors")
    assert "broken.json" in errors and "The JSON can’t be read" in errors
    assert "line 2, column 14" in errors and "A value is missing before this }" in errors
    assert '"events": [}]' in errors and "choose it again" in errors
    assert report_count(app) == 0


def test_oversized_upload_gets_a_friendly_page_not_a_bare_413(config):
    app = create_app({**config, "MAX_CONTENT_LENGTH": 4096})
    client = app.test_client()
    big = json.dumps([student(f"s{i}", [event(i)]) for i in range(200)]).encode()
    response = submit_form(client, file=("big.json", big), headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 413 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "That file is too large" in page and "at most 4 kB" in page and "Split the students" in page
    assert "Back to the upload form" in page
    api = app.test_client().post("/assignment/pdf", data=big, content_type="application/json")
    assert api.status_code == 413 and api.is_json
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 0
        db.engine.dispose()


def test_pasted_json_may_be_as_large_as_an_uploaded_file(app, client):
    text = json.dumps([student(f"student-{i}", [event(j) for j in range(40)]) for i in range(500)])
    assert len(text) > 600_000  # over Werkzeug's 500 kB form-field default
    response = submit_form(client, text=text, formats=["html"])
    assert response.status_code == 303
    assert all_reports(app)[0].student_count == 500


# --- the status page ------------------------------------------------------------------------

def submitted(app, client, **kwargs) -> list[Report]:
    response = submit_form(client, text=json.dumps(sample_students()), **kwargs)
    assert response.status_code == 303
    return sorted(all_reports(app), key=lambda r: list(FORMATS).index(r.format))


def test_status_page_while_working_shows_the_submission_progress_and_refreshes_without_js(app, client):
    html_report, pdf_report = submitted(app, client, label="Week 3")
    set_state(app, pdf_report.id, status="STARTED", progress_current=1)
    response = client.get(f"/reports/{pdf_report.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Working…: Week 3 · reportgen</title>" in page
    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+"></noscript>', page)
    assert '<script src="/static/js/status.js" defer></script>' in page
    assert f'data-status-url="/reports/{pdf_report.id}/status.json"' in page
    for card in (html_report, pdf_report):  # both formats of the submission
        assert f'id="report-{card.id}"' in page
    assert f'id="progress-{pdf_report.id}" max="2" value="1"' in page and "1 of 2 students" in page
    assert "Zoë Дмитрий Ωμέγα" in page and "alice" in page and "course-1" in page
    assert re.search(r"<dt>Events</dt><dd>5</dd>", page)
    body = client.get(f"/reports/{pdf_report.id}/status.json").get_json()
    assert body["done"] is False and body["summary"].startswith("Rendering")
    assert [r["task_id"] for r in body["reports"]] == [html_report.id, pdf_report.id]
    assert body["reports"][1]["progress"] == {"current": 1, "total": 2, "percent": 50}
    assert f'id="report-{pdf_report.id}"' in body["html"]


def test_status_page_when_done_offers_the_files_with_size_and_time(app, client):
    html_report, pdf_report = submitted(app, client)
    for report, size in ((html_report, 900), (pdf_report, 12_345)):
        set_state(app, report.id, status="SUCCESS", size=size, sha256="a" * 64, progress_current=2,
                  started_at=report.created_at, finished_at=report.created_at + timedelta(seconds=3.25))
    page = client.get(f"/reports/{html_report.id}").get_data(as_text=True)
    assert "http-equiv" not in page
    assert f'<a class="button primary" href="/assignment/html/{html_report.id}">View HTML</a>' in page
    assert f'<a class="button primary" href="/assignment/pdf/{pdf_report.id}" download>Download PDF</a>' in page
    assert "900 bytes" in page and "12.3 kB" in page and "3.2 s" in page
    assert "Done: both reports are ready." in page
    body = client.get(f"/reports/{html_report.id}/status.json").get_json()
    assert body["done"] is True and body["title"] == "Ready · reportgen"


def test_students_left_out_of_a_finished_report_are_named(app, client):
    if not hasattr(Report, "summary"):
        pytest.skip("reports have no per-student summary in this version")
    [report] = submitted(app, client, formats=["pdf"])
    set_state(app, report.id, status="SUCCESS", size=10, finished_at=report.created_at, summary={
        "total": 2, "succeeded": 1, "failed": 1, "success_rate": 0.5, "students": [
            {"position": 0, "student_id": "alice", "namespace": "course-1", "status": "FAILURE",
             "error": "ValueError: <bad> unit", "size": None},
            {"position": 1, "student_id": "Zoë", "namespace": "course-1", "status": "SUCCESS",
             "error": None, "size": 10}]})
    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "1 of 2 students could not be included" in page
    assert "<code>alice</code>: ValueError: &lt;bad&gt; unit" in page


def test_failure_is_explained_and_try_again_queues_the_same_input_as_a_new_report(app, client):
    [report] = submitted(app, client, formats=["pdf"], label="L")
    set_state(app, report.id, status="FAILURE", error="The report could not be rendered: ValueError: boom",
              finished_at=datetime.now(timezone.utc))
    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "This report could not be made." in page and "ValueError: boom" in page
    assert f'action="/reports/{report.id}/retry"' in page and 'name="csrf_token"' in page
    assert client.post(f"/reports/{report.id}/retry").status_code == 400  # no token
    assert report_count(app) == 1
    response = client.post(f"/reports/{report.id}/retry", data={"csrf_token": csrf_token(client, f"/reports/{report.id}")})
    assert response.status_code == 303
    old, new = all_reports(app)
    assert response.headers["Location"] == f"/reports/{new.id}"
    assert (old.id, old.status) == (report.id, "FAILURE")
    assert (new.status, new.format, new.label) == ("PENDING", "pdf", "L")
    assert stored_upload(app, new.id) == stored_upload(app, old.id) != []
    assert new.submission_id not in (None, old.submission_id)
    assert "Queued again as a new report." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_only_a_failed_report_can_be_tried_again(app, client):
    [report] = submitted(app, client, formats=["html"])
    response = client.post(f"/reports/{report.id}/retry", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303 and response.headers["Location"] == f"/reports/{report.id}"
    assert report_count(app) == 1


def test_reports_made_through_the_api_have_a_status_page_too(client):
    task_id = post_json(client, "/assignment/pdf", sample_students()).get_json()["task_id"]
    assert f'id="report-{task_id}"' in client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert [r["task_id"] for r in client.get(f"/reports/{task_id}/status.json").get_json()["reports"]] == [task_id]


def test_unknown_report_is_a_404_page_for_people_and_json_for_programs(client):
    response = client.get("/reports/nope", headers={"Accept": "text/html"})
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)
    response = client.get("/reports/nope/status.json", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.is_json


def test_user_text_is_escaped_on_every_page(app, client):
    hostile = "<script>alert(1)</script>"
    response = submit_form(client, text=json.dumps([student(hostile, [event(1)], namespace=hostile)]),
                           label=hostile, formats=["html"])
    location = response.headers["Location"]
    for path in (location, "/reports"):
        page = client.get(path).get_data(as_text=True)
        assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- history --------------------------------------------------------------------------------

def add_report(student_ids, namespaces=("course-1",), minutes_ago=0, **values) -> str:
    created = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    report = Report(format=values.pop("format", "html"), status=values.pop("status", "SUCCESS"),
                    student_count=len(student_ids), event_count=1,
                    student_ids=list(student_ids), namespaces=list(namespaces), progress_current=0,
                    progress_total=len(student_ids), attempts=0, created_at=created, **values)
    db.session.add(report)
    db.session.commit()
    return report.id


def listed_ids(page: str) -> list[str]:
    return re.findall(r'<a class="upload-title" href="/reports/([0-9a-f-]{36})">', page)  # one per upload


def test_history_is_newest_first_and_paginated(app, client):
    with app.app_context():
        ids = [add_report([f"student-{i}"], minutes_ago=100 - i) for i in range(25)]
    first = client.get("/reports").get_data(as_text=True)
    assert listed_ids(first) == ids[::-1][:20]
    assert "25 uploads, newest first · page 1 of 2" in first
    assert 'href="/reports?page=2"' in first
    second = client.get("/reports?page=2").get_data(as_text=True)
    assert listed_ids(second) == ids[::-1][20:]
    assert 'href="/reports?page=1"' in second
    assert listed_ids(client.get("/reports?page=9").get_data(as_text=True)) == []
    assert client.get("/reports?page=-3").status_code == 200


def test_history_filters_by_student_id_substring_and_namespace(any_database_app):
    app = any_database_app
    with app.app_context():
        alice = add_report(["alice", "bob"], minutes_ago=5)
        underscore = add_report(["bob_smith"], ["course-2"], minutes_ago=4)
        percent = add_report(["100%"], ["course-2"], minutes_ago=3)
        zoe = add_report(["Zoë Дмитрий"], ["Kurs \"A\""], minutes_ago=2, status="FAILURE")
        quote = add_report(['say "hi"\\'], minutes_ago=1)
    client = app.test_client()

    def found(**filters) -> set[str]:
        if "student" in filters:  # one box finds labels and student ids
            filters["q"] = filters.pop("student")
        return set(listed_ids(client.get("/reports", query_string=filters).get_data(as_text=True)))

    assert found() == {alice, underscore, percent, zoe, quote}
    assert found(student="ALI") == {alice}  # case-insensitive substring
    assert found(student="bob") == {alice, underscore}
    assert found(student="_") == {underscore}  # LIKE wildcards are literal
    assert found(student="%") == {percent}
    assert found(student="Zoë Дм") == {zoe}
    assert found(student='"hi"\\') == {quote}
    assert found(student='alice", "bob') == set()  # never across two ids
    assert found(namespace="course-2") == {underscore, percent}
    assert found(namespace='kurs "a"') == {zoe}
    assert found(namespace="course-2", student="bob") == {underscore}
    assert found(status="FAILURE") == {zoe}
    page = client.get("/reports", query_string={"q": "nobody"}).get_data(as_text=True)
    assert "No upload matches these filters." in page and 'value="nobody"' in page


def test_history_rows_link_to_status_and_download_and_keep_filters_across_pages(app, client):
    with app.app_context():
        done = add_report(["alice"], format="pdf", label="Week 3")
        for i in range(21):
            add_report([f"alice-{i}"], minutes_ago=10 + i, status="PENDING")
    page = client.get("/reports?q=alice").get_data(as_text=True)
    assert f'<a class="upload-title" href="/reports/{done}">Week 3' in page
    assert f'<a href="/assignment/pdf/{done}" download><span class="verb">Download </span>PDF</a>' in page
    assert "badge-pending" in page
    assert "Week 3" in page
    assert 'href="/reports?page=2&amp;q=alice"' in page


# --- email from the form ---------------------------------------------------------------------

@pytest.fixture
def mail_client(config):
    app = create_app({**config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 2525})
    yield app, app.test_client()
    with app.app_context():
        db.engine.dispose()


def test_form_recipients_get_one_delivery_per_upload_shown_on_the_status_page(mail_client):
    app, client = mail_client
    response = submit_form(client, text=json.dumps(sample_students()), formats=["pdf", "csv"],
                           email="teacher@school.example, head@school.example; Teacher@school.example")
    assert response.status_code == 303
    with app.app_context():
        rows = db.session.execute(select(Report.format, Delivery.recipient, Delivery.status)
                                  .join(Delivery).order_by(Report.format, Delivery.id)).all()
    assert [tuple(row) for row in rows] == [  # on the upload's last report: one message with both formats
        ("csv", "teacher@school.example", "QUEUED"), ("csv", "head@school.example", "QUEUED")]
    status_page = client.get(response.headers["Location"])
    assert status_page.status_code == 200
    task_id = response.headers["Location"].rsplit("/", 1)[1]
    set_state(app, task_id, status="SUCCESS", content=b"x", content_type="application/pdf", size=1, sha256="0" * 64)
    with app.app_context():
        db.session.execute(update(Delivery).where(Delivery.recipient.startswith("head"))
                           .values(status="FAILED", attempts=3, error="Gave up after 3 attempts. Last error: 451 busy"))
        db.session.commit()
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert "teacher@school.example" in page and "waiting to be sent" in page
    assert "not delivered after 3 attempts: Gave up after 3 attempts. Last error: 451 busy" in page


def test_bad_recipient_shows_the_api_message_next_to_the_email_field_and_stores_nothing(app, mail_client):
    mail_app, client = mail_client
    response = submit_form(client, text=json.dumps(sample_students()), email="ok@school.example, not-an-address")
    assert response.status_code == 400
    errors = block(response.get_data(as_text=True), "email-errors")
    assert "'not-an-address' is not a valid email address" in errors
    assert report_count(app) == 0


def test_email_on_a_server_without_smtp_says_so(app, client):
    response = submit_form(client, text=json.dumps(sample_students()), email="ok@school.example")
    assert response.status_code == 400
    assert "Email is not set up on this server" in block(response.get_data(as_text=True), "email-errors")
    assert report_count(app) == 0


def test_an_uploaded_envelope_brings_its_own_recipients(mail_client):
    app, client = mail_client
    envelope = {"students": sample_students(), "email": ["from-file@school.example"]}
    response = submit_form(client, file=("students.json", json.dumps(envelope).encode()), formats=["html"])
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Delivery.recipient)).all() == ["from-file@school.example"]


# --- report options on the form ---------------------------------------------------------------

def test_the_form_sets_the_report_options_and_the_status_page_shows_them(app, client):
    options = [("event_log", "y"), ("idle_cutoff_minutes", "20"), ("window_from", "2024-07-21"),
               ("window_to", "2024-07-21"), ("unit_order", "17, 5"), ("report_timezone", "America/New_York")]
    response = submit_form(client, text=json.dumps(sample_students()), formats=("pdf",), options=options)
    assert response.status_code == 303
    [report] = all_reports(app)
    assert report.options == {"event_log": True, "idle_cutoff_minutes": 20, "units": {"course-1": ["17", "5"]},
                              "window": {"from": "2024-07-21", "to": "2024-07-21"}, "unit_names": {},
                              "student_names": {}, "timezone": "America/New_York"}
    assert report.events_left_out == 2  # the second student's events are on 2024-07-22
    assert report.labels["course-1"] == {"17": "Q1", "5": "Q2"}
    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Idle cutoff: 20 min" in page and "Window: 2024-07-21 to 2024-07-21 (UTC); 2 events outside it left out" in page
    assert "Event log: included in the PDF" in page and "Unit order fixed for course-1: 17, 5" in page
    assert "Times: America/New_York (times marked EDT or EST)" in page


def test_bad_form_options_are_shown_next_to_their_fields_and_nothing_is_stored(app, client):
    options = [("idle_cutoff_minutes", "0"), ("window_from", "2024-07-31"), ("window_to", "2024-07-01"),
               ("report_timezone", "Mars/Olympus_Mons")]
    response = submit_form(client, text=json.dumps(sample_students()), options=options)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "Choose a whole number of minutes from 1 to 1440." in page
    assert "The end date is before the start date." in page
    assert "'Mars/Olympus_Mons' is not an IANA time zone such as Europe/Berlin" in page
    assert all_reports(app) == []
