"""Reports emailed through a real SMTP server on loopback (aiosmtpd), read back byte for byte."""
import subprocess
import sys
import time

import pytest

from reportgen import create_app
from reportgen.extensions import db

from .helpers import ROOT, post_json, sample_students, status, worker_env


@pytest.fixture
def mail_app(config, mailbox):
    _, port = mailbox
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_FROM": "reports@school.example"}
    app = create_app({**config, **smtp})
    app.smtp_env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "reports@school.example",
                    "REPORTGEN_MAIL_RETRY_INTERVALS": "1,1"}
    yield app
    with app.app_context():
        db.engine.dispose()


def submit(client, report_format: str, recipients) -> str:
    response = post_json(client, f"/assignment/{report_format}", {"students": sample_students(), "email": recipients})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


@pytest.mark.parametrize("report_format, disposition", [("pdf", "attachment"), ("csv", "attachment"),
                                                        ("html", "inline")])
def test_each_recipient_gets_the_report_and_a_readable_summary(mail_app, mailbox, run_worker, report_format,
                                                               disposition):
    box, _ = mailbox
    client = mail_app.test_client()
    task_id = submit(client, report_format, ["teacher@school.example", "head@school.example"])
    assert [d["status"] for d in status(client, report_format, task_id)["deliveries"]] == ["QUEUED", "QUEUED"]
    run_worker(**mail_app.smtp_env)
    report_bytes = client.get(f"/assignment/{report_format}/{task_id}").data
    assert sorted(m["To"] for m in box.messages) == ["head@school.example", "teacher@school.example"]
    assert [e.rcpt_tos for e in box.envelopes] in ([["teacher@school.example"], ["head@school.example"]],
                                                   [["head@school.example"], ["teacher@school.example"]])
    for message in box.messages:
        assert message["From"] == "reports@school.example"
        assert message["Subject"] == f"Activity report: 2 students ({report_format.upper()})"
        assert message["X-Reportgen-Task"] == task_id
        html_body = message.get_body(preferencelist=("html",)).get_content()
        assert "Activity report: 2 students" in html_body and "<th" in html_body and "Succeeded" in html_body
        assert "Succeeded: 2" in message.get_body(preferencelist=("plain",)).get_content()
        [part] = [part for part in message.walk() if part.get_content_disposition() == disposition]
        assert part.get_filename() == f"report-2-students-{task_id[:8]}.{report_format}"
        assert part.get_payload(decode=True) == report_bytes
    deliveries = status(client, report_format, task_id)["deliveries"]
    assert [(d["status"], d["attempts"], d["error"]) for d in deliveries] == [("SENT", 1, None)] * 2
    assert all(d["sent_at"] for d in deliveries)


def test_a_refusing_server_is_retried_then_the_failure_is_visible_and_the_report_kept(mail_app, mailbox, config,
                                                                                       tmp_path):
    box, _ = mailbox
    box.refusal = "451 4.3.0 Mailbox busy, try again later"
    client = mail_app.test_client()
    task_id = submit(client, "pdf", ["teacher@school.example"])
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                              env=worker_env(config, tmp_path, **mail_app.smtp_env),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while (delivery := (status(client, "pdf", task_id).get("deliveries") or [{}])[0]).get("status") != "FAILED":
            assert time.monotonic() < deadline, delivery
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert delivery["attempts"] == 3 and box.rcpt_attempts == 3
    assert delivery["error"].startswith("Gave up after 3 attempts. Last error: Attempt 3 failed: ")
    assert "451" in delivery["error"] and "Mailbox busy" in delivery["error"]
    assert box.messages == []
    report = client.get(f"/assignment/pdf/{task_id}")
    assert report.status_code == 200 and report.data.startswith(b"%PDF")


def test_a_permanent_refusal_fails_at_once(mail_app, mailbox, run_worker):
    box, _ = mailbox
    box.refusal = "550 5.1.1 No such user"
    client = mail_app.test_client()
    task_id = submit(client, "csv", ["ghost@school.example"])
    run_worker(**mail_app.smtp_env)
    [delivery] = status(client, "csv", task_id)["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("FAILED", 1)
    assert delivery["error"] == "The mail server refused the message: ghost@school.example: 550 5.1.1 No such user"
    assert client.get(f"/assignment/csv/{task_id}").status_code == 200


def test_bad_addresses_are_400_with_paths_and_nothing_is_stored(mail_app):
    client = mail_app.test_client()
    response = post_json(client, "/assignment/pdf", {"students": sample_students(), "email": ["ok@x.example", "not-an-address"]})
    assert response.status_code == 400
    assert list(response.get_json()["details"]) == ["email[1]"]
    assert "not a valid email address" in response.get_json()["details"]["email[1]"]


def test_email_is_refused_when_no_smtp_server_is_configured(client):
    response = post_json(client, "/assignment/pdf", {"students": sample_students(), "email": ["a@x.example"]})
    assert response.status_code == 400
    assert response.get_json()["details"] == {"email": "this server has no SMTP server configured (SMTP_HOST)"}


def test_a_report_that_fails_skips_its_emails_however_it_fails(mail_app, mailbox):
    """Every way of failing a report (all students failed, the assembly given up by RQ or by the
    sweeper) goes through mark_failed, so no email is left QUEUED for a report that has none to send."""
    from reportgen.state import mark_failed

    box, _ = mailbox
    client = mail_app.test_client()
    task_id = submit(client, "pdf", ["head@school.example"])
    with mail_app.app_context():
        assert mark_failed(task_id, "Gave up assembling the report after repeated errors (OperationalError).")
        assert not mark_failed(task_id, "a second failure changes nothing")
    body = status(client, "pdf", task_id)
    assert body["status"] == "FAILURE" and body["error"].startswith("Gave up assembling")
    assert [(d["status"], d["error"]) for d in body["deliveries"]] == [
        ("SKIPPED", "The report failed, so there was nothing to send.")]
    assert box.messages == []
