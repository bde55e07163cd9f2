"""Several formats in one submit to ``POST /assignment`` (issue 19): one upload, one report per
format, one status page, each report's own webhook; the Idempotency-Key covers the whole submit.
Real PostgreSQL, Redis, workers and a webhook receiver on loopback."""
from __future__ import annotations

import pytest

from ..support.api import post_json, status
from ..support.database import report_count
from ..support.fakes import WEBHOOK_WORKER_ENV
from ..support.payloads import sample_students


LABEL = "Week 3 · الأسبوع الثالث"


def post_formats(client, payload, **kwargs):
    return post_json(client, "/assignment", payload, **kwargs)


def test_one_submit_of_three_formats_makes_three_reports_on_one_status_page_each_with_its_webhook(
        hook_app, receiver, run_worker):
    client = hook_app.test_client()
    response = post_formats(client, {"students": sample_students(), "formats": ["pdf", "html", "csv"],
                                     "label": LABEL, "callback_url": receiver.url()})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["formats"] == ["html", "pdf", "csv"]  # as the status page lists them
    assert len(set(body["task_ids"])) == 3 and body["label"] == LABEL
    assert [report["task_id"] for report in body["reports"]] == body["task_ids"]
    assert [report["format"] for report in body["reports"]] == body["formats"]
    assert body["status_page_url"] == f"http://localhost/reports/{body['task_ids'][0]}"
    assert response.headers["Location"] == body["status_page_url"]
    assert all(report["status"] == "PENDING" and report["label"] == LABEL for report in body["reports"])
    run_worker(**WEBHOOK_WORKER_ENV)
    for task_id, report_format in zip(body["task_ids"], body["formats"]):
        finished = status(client, report_format, task_id)
        assert (finished["status"], finished["label"]) == ("SUCCESS", LABEL)
        assert finished["download_url"] == f"http://localhost/assignment/{report_format}/{task_id}"
        assert client.get(finished["download_url"]).status_code == 200
    assert client.get(f"/assignment/pdf/{body['task_ids'][1]}").data.startswith(b"%PDF")
    page = client.get(body["status_page_url"]).get_data(as_text=True)
    assert all(f"/assignment/{fmt}/{task_id}" in page for task_id, fmt in zip(body["task_ids"], body["formats"]))
    hooks = sorted((request["verified"]["format"], request["verified"]["task_id"],
                    request["verified"]["download_url"]) for request in receiver.requests)
    assert hooks == sorted((fmt, task_id, f"http://localhost/assignment/{fmt}/{task_id}")
                           for task_id, fmt in zip(body["task_ids"], body["formats"]))


@pytest.mark.parametrize("formats, path, problem", [
    (["pdf", "docx"], "formats[1]", "unknown format 'docx'"),
    (["pdf", "html", "pdf"], "formats[2]", "'pdf' is already listed (formats[0])"),
    ([], "formats", "at least one format"),
    ("pdf", "formats", "must be an array"),
    (None, "formats", "must be an array"),
])
def test_unknown_repeated_or_no_formats_are_400_naming_the_entry_and_store_nothing(app, client, formats, path,
                                                                                   problem):
    response = post_formats(client, {"students": sample_students(), "formats": formats})
    assert response.status_code == 400, response.get_json()
    assert problem in response.get_json()["details"][path]
    assert report_count(app) == 0


def test_formats_are_only_for_the_submit_of_several_and_only_in_a_json_envelope(app, client):
    on_one = post_json(client, "/assignment/pdf", {"students": sample_students(), "formats": ["pdf"]})
    assert on_one.status_code == 400 and "POST /assignment" in on_one.get_json()["details"]["formats"]
    bare = post_formats(client, sample_students())
    assert bare.status_code == 400 and "is required" in bare.get_json()["details"]["formats"]
    csv = client.post("/assignment", data="student_id,unit,created_time\na,1,2024-01-01T00:00:00Z\n",
                      content_type="text/csv")
    assert csv.status_code == 400 and "/assignment/<format>" in csv.get_json()["details"]["formats"]
    assert report_count(app) == 0


def test_an_idempotency_key_covers_the_whole_submit_of_several_formats(app, client):
    payload = {"students": sample_students(), "formats": ["pdf", "csv"]}
    first = post_formats(client, payload, headers={"Idempotency-Key": "lms-run-7"})
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = post_formats(client, payload, headers={"Idempotency-Key": "lms-run-7"})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["task_ids"] == first.get_json()["task_ids"]
    assert again.headers["Location"] == first.headers["Location"]
    other = post_formats(client, {**payload, "formats": ["pdf"]}, headers={"Idempotency-Key": "lms-run-7"})
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["details"]
    one_format = post_json(client, "/assignment/pdf", payload["students"], headers={"Idempotency-Key": "lms-run-7"})
    assert one_format.status_code == 422
    assert report_count(app) == 2


def test_each_recipient_gets_one_email_with_every_format_of_the_submit(make_app, mailbox, run_worker):
    box, port = mailbox
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "reports@school.example"}
    client = make_app(**{**smtp, "SMTP_PORT": port}).test_client()
    body = post_formats(client, {"students": sample_students(), "formats": ["csv", "pdf"], "label": LABEL,
                                 "email": ["teacher@school.example"]}).get_json()
    run_worker(**smtp)
    [message] = box.messages
    assert message["To"] == "teacher@school.example" and LABEL in message["Subject"]
    names = sorted(part.get_filename() for part in message.walk() if part.get_content_disposition() == "attachment")
    assert names == sorted(f"Week-3-الأسبوع-الثالث-{task_id[:8]}.{fmt}"
                           for task_id, fmt in zip(body["task_ids"], body["formats"]))
