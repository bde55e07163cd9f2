"""Reports emailed through a real SMTP server on loopback (aiosmtpd), read back byte for byte:
one message per recipient per upload, with every format that succeeded."""
import json
import re
import threading
import time

import pytest
from redis import Redis
from sqlalchemy import select, update

from reportgen import create_app
from reportgen.extensions import db
from reportgen.models import Delivery, Report
from reportgen.pipeline import state
from reportgen.pipeline.endings import report_ended
from reportgen.pipeline.sweeper import sweep

from ..support.api import post_json, status, submit
from ..support.database import corrupt_student
from ..support.fakes import WEBHOOK_SECRET
from ..support.pages import submit_form
from ..support.payloads import sample_students
from ..support.processes import listening_workers, wait_until

#: A time as a message shows it.
READABLE_TIME = re.compile(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}, \d\d:\d\d UTC\b")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
PUBLIC_URL = "https://reports.school.example"
LABEL = "Week 3 · class 7B"
RECIPIENTS = ["teacher@school.example", "head@school.example"]


@pytest.fixture
def mail_app(app, config, mailbox):
    """An app that sends email to the loopback server (``app`` leaves the database and Redis empty)."""
    _, port = mailbox
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_FROM": "reports@school.example"}
    app = create_app({**config, **smtp})
    app.smtp_env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "reports@school.example",
                    "REPORTGEN_MAIL_RETRY_INTERVALS": "1,1"}
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("report_format, disposition", [("pdf", "attachment"), ("csv", "attachment"),
                                                        ("html", "inline")])
def test_each_recipient_gets_the_report_and_a_readable_summary(mail_app, mailbox, run_worker, report_format,
                                                               disposition):
    box, _ = mailbox
    client = mail_app.test_client()
    task_id = submit(client, report_format, email=["teacher@school.example", "head@school.example"])
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
        plain = message.get_body(preferencelist=("plain",)).get_content()
        assert "Activity report: 2 students" in html_body and "<th" in html_body
        assert "2 of 2 students succeeded" in html_body and "Succeeded: 2 of 2 students" in plain
        assert READABLE_TIME.search(plain) and not ISO_TIME.search(plain) and not ISO_TIME.search(html_body)
        assert "Status page" not in plain and "/reports/" not in html_body  # REPORTGEN_PUBLIC_URL is unset
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
    task_id = submit(client, "pdf", email=["teacher@school.example"])
    with listening_workers(config, tmp_path, 1, **mail_app.smtp_env):
        deadline = time.monotonic() + 120
        while (delivery := (status(client, "pdf", task_id).get("deliveries") or [{}])[0]).get("status") != "FAILED":
            assert time.monotonic() < deadline, delivery
            time.sleep(0.5)
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
    task_id = submit(client, "csv", email=["ghost@school.example"])
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
    sweeper) goes through mark_failed and then report_ended, so no email is left QUEUED for a
    report that has none to send."""
    box, _ = mailbox
    client = mail_app.test_client()
    task_id = submit(client, "pdf", email=["head@school.example"])
    with mail_app.app_context():
        assert state.mark_failed(task_id, "Gave up assembling the report after repeated errors (OperationalError).")
        assert not state.mark_failed(task_id, "a second failure changes nothing")
        report_ended(task_id)
    body = status(client, "pdf", task_id)
    assert body["status"] == "FAILURE" and body["error"].startswith("Gave up assembling")
    assert [(d["status"], d["error"]) for d in body["deliveries"]] == [
        ("SKIPPED", "The report failed, so there was nothing to send.")]
    assert box.messages == []


def form_upload(app, recipients=RECIPIENTS, formats=("pdf", "html", "csv"), label=LABEL) -> list[str]:
    """Upload the sample through the form; the task ids of its reports, in the order they were made."""
    client = app.test_client()
    response = submit_form(client, text=json.dumps(sample_students()), formats=formats, label=label,
                           email=", ".join(recipients))
    assert response.status_code == 303, response.get_data(as_text=True)
    first = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        submission_id = db.session.get(Report, first).submission_id
        return db.session.scalars(select(Report.id).where(Report.submission_id == submission_id)
                                  .order_by(Report.created_at)).all()


def deliveries_of(app, task_ids: list[str]) -> list[tuple[str, str, str, int, str | None]]:
    """``(report id, recipient, status, attempts, error)`` of every email of an upload."""
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(Delivery.report_id, Delivery.recipient, Delivery.status, Delivery.attempts, Delivery.error)
            .where(Delivery.report_id.in_(task_ids)).order_by(Delivery.id))]


def attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True) for part in message.walk() if part.get_filename()}


def test_a_three_format_upload_sends_each_recipient_one_message_with_every_format(mail_app, mailbox, run_worker):
    box, _ = mailbox
    task_ids = form_upload(mail_app)
    assert len(task_ids) == 3
    lead = task_ids[-1]
    assert {report_id for report_id, *_ in deliveries_of(mail_app, task_ids)} == {lead}  # held once, by the lead
    run_worker(**mail_app.smtp_env, REPORTGEN_PUBLIC_URL=PUBLIC_URL + "/")
    client = mail_app.test_client()
    formats = {}
    with mail_app.app_context():
        for report in db.session.scalars(select(Report).where(Report.id.in_(task_ids))):
            formats[report.format] = report.id
    documents = {f"Week-3-class-7B-{task_id[:8]}.{fmt}": client.get(f"/assignment/{fmt}/{task_id}").data
                 for fmt, task_id in formats.items()}
    assert sorted(m["To"] for m in box.messages) == sorted(RECIPIENTS)
    link = f"{PUBLIC_URL}/reports/{lead}"
    for message in box.messages:
        assert message["Subject"] == f"{LABEL} (HTML, PDF, CSV)"
        assert message["X-Reportgen-Task"] == lead
        assert attachments(message) == documents
        plain = message.get_body(preferencelist=("plain",)).get_content()
        html_body = message.get_body(preferencelist=("html",)).get_content()
        assert "Your HTML, PDF and CSV reports are ready." in plain
        assert len(READABLE_TIME.findall(plain)) == 2 and not ISO_TIME.search(plain + html_body)
        assert f"Status page: {link}" in plain and f'<a href="{link}">' in html_body
    assert [(status_, attempts, error) for _, _, status_, attempts, error in deliveries_of(mail_app, task_ids)] == [
        ("SENT", 1, None)] * 2
    page = client.get(link.removeprefix(PUBLIC_URL)).get_data(as_text=True)
    assert all(page.count(recipient) == 1 for recipient in RECIPIENTS), "the upload's emails are listed once"
    assert "One message to each recipient with every format of this upload" in page


def test_a_format_that_failed_is_a_sentence_and_the_others_are_attached(mail_app, mailbox, run_worker):
    box, _ = mailbox
    task_ids = form_upload(mail_app, recipients=["teacher@school.example"])
    with mail_app.app_context():
        csv_id = db.session.scalar(select(Report.id).where(Report.id.in_(task_ids), Report.format == "csv"))
    for position in (0, 1):
        corrupt_student(mail_app, csv_id, position)
    run_worker(**mail_app.smtp_env)
    [message] = box.messages
    assert message["Subject"] == f"{LABEL} (HTML, PDF)"
    assert sorted(name.rsplit(".", 1)[1] for name in attachments(message)) == ["html", "pdf"]
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert "2 of your 3 reports are ready." in plain
    assert "CSV: The CSV report could not be made: All 2 students failed; the first error: " in plain
    assert "could not be made" in message.get_body(preferencelist=("html",)).get_content()


def test_when_every_format_fails_no_email_is_sent_and_the_emails_are_skipped(mail_app, mailbox, run_worker):
    box, _ = mailbox
    task_ids = form_upload(mail_app, formats=("html", "csv"))
    for task_id in task_ids:
        for position in (0, 1):
            corrupt_student(mail_app, task_id, position)
    run_worker(**mail_app.smtp_env)
    assert box.messages == [] and box.rcpt_attempts == 0
    reason = "No format of the upload succeeded (each failed or was canceled), so there was nothing to send."
    assert [(status_, error) for _, _, status_, _, error in deliveries_of(mail_app, task_ids)] == [
        ("SKIPPED", reason)] * 2


def test_two_workers_finishing_the_formats_at_once_send_one_message_per_recipient(mail_app, mailbox, config,
                                                                                 tmp_path):
    box, _ = mailbox
    with listening_workers(config, tmp_path, 2, **mail_app.smtp_env):
        task_ids = form_upload(mail_app)
        wait_until(lambda: [row[2] for row in deliveries_of(mail_app, task_ids)] == ["SENT"] * 2, 180,
                   "both emails to be sent")
        time.sleep(2)  # a second message, if one were queued, would arrive in this time
    assert sorted(m["To"] for m in box.messages) == sorted(RECIPIENTS)
    assert all(len(attachments(message)) == 3 for message in box.messages)


def test_the_upload_that_ends_last_claims_its_emails_once_however_many_end_at_once(mail_app, mailbox):
    """Every report of an upload ends in the same instant, and each asks, on its own database
    connection, for the upload's emails: one gets both, the others nothing."""
    task_ids = form_upload(mail_app)
    with mail_app.app_context():
        for task_id in task_ids:
            assert state.cancel_report(task_id)  # ended, all of them, before any asks
        db.session.execute(update(Report).where(Report.id == task_ids[0]).values(status="SUCCESS"))
        db.session.commit()
    barrier, claims = threading.Barrier(len(task_ids)), {}

    def claim(task_id: str) -> None:
        with mail_app.app_context():
            barrier.wait()
            claims[task_id] = state.claim_upload_emails(task_id)
            db.session.remove()

    threads = [threading.Thread(target=claim, args=(task_id,)) for task_id in task_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    won = [queued for queued in claims.values() if queued]
    assert len(claims) == 3 and len(won) == 1 and [lead for _, lead in won[0]] == [task_ids[-1]] * 2


def test_retries_after_a_refusing_server_send_the_upload_once_it_accepts(mail_app, mailbox, config, tmp_path):
    box, _ = mailbox
    box.refusal = "451 4.3.0 Mailbox busy, try again later"
    with listening_workers(config, tmp_path, 1, **mail_app.smtp_env):
        task_ids = form_upload(mail_app, recipients=["teacher@school.example"], formats=("pdf", "csv"))
        wait_until(lambda: box.rcpt_attempts >= 1, 180, "the first attempt")
        box.refusal = None
        wait_until(lambda: [row[2] for row in deliveries_of(mail_app, task_ids)] == ["SENT"], 60, "the retry")
    [(_, _, _, attempts, error)] = deliveries_of(mail_app, task_ids)
    assert (attempts, error, box.rcpt_attempts) == (2, None, 2)
    [message] = box.messages
    assert sorted(name.rsplit(".", 1)[1] for name in attachments(message)) == ["csv", "pdf"]


@pytest.mark.parametrize("never_queued", [False, True], ids=["job-lost", "never-queued"])
def test_the_sweeper_queues_the_lost_email_of_a_finished_upload(mail_app, mailbox, run_worker, config, never_queued):
    """The upload finished but its email's job was lost (Redis flushed), or the emails were
    never queued at all (the report that ended last died before it queued them): a sweep
    queues them, once."""
    box, _ = mailbox
    box.refusal = "451 4.3.0 Mailbox busy, try again later"
    env = {**mail_app.smtp_env, "REPORTGEN_MAIL_RETRY_INTERVALS": "3600"}
    task_ids = form_upload(mail_app, recipients=["teacher@school.example"], formats=("html", "csv"))
    run_worker(**env)  # both reports succeed; the email's retry is scheduled an hour ahead
    assert [row[2:4] for row in deliveries_of(mail_app, task_ids)] == [("QUEUED", 1)]
    Redis.from_url(config["REDIS_URL"]).flushdb()
    box.refusal = None
    mail_app.config["REPORTGEN_STALE_AFTER"] = 0
    with mail_app.app_context():
        if never_queued:
            db.session.execute(update(Report).where(Report.id.in_(task_ids)).values(emails_queued_at=None))
            db.session.commit()
        assert sweep().deliveries_requeued == 1
        assert sweep().deliveries_requeued == 0  # queued and waiting: not twice
    run_worker(**env)
    assert [row[2:5] for row in deliveries_of(mail_app, task_ids)] == [("SENT", 2, None)]
    [message] = box.messages
    assert len(attachments(message)) == 2


def test_a_submit_the_queue_refused_is_finished_and_sends_nothing_later(config, mailbox, app):
    """The client was told 503 at once: its report is finished (so nothing waits for it) and its
    email and webhook are skipped, so no sweep sends them later."""
    _, port = mailbox
    down = create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port,
                       "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET, "REPORTGEN_WEBHOOK_ALLOW": ["127.0.0.1"]})
    response = post_json(down.test_client(), "/assignment/csv", {"students": sample_students(), "email": RECIPIENTS[:1],
                                                                "callback_url": "http://127.0.0.1:9/hook"})
    assert response.status_code == 503
    task_id = response.get_json()["details"]["task_id"]
    with down.app_context():
        report = db.session.get(Report, task_id)
        assert report.status == "FAILURE" and report.finished_at is not None
        assert [(d.kind, d.status, d.error) for d in report.deliveries] == [
            (kind, "SKIPPED", "The job queue was unavailable, so the report was never started and nothing was sent.")
            for kind in ("email", "webhook")]
        db.engine.dispose()
    app.config["REPORTGEN_STALE_AFTER"] = 0
    with app.app_context():
        assert sweep().repairs == 0
