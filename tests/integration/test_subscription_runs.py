"""A subscription's run end to end, on real parts: two ``rq cron`` processes, a report worker and
a delivery worker, PostgreSQL or SQLite, and an SMTP server on loopback that counts what it gets.
Each period is made once and each message sent once, whoever asks; each student gets only their
own report; a period without events is skipped without mail."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from reportgen.domain.periods import to_microseconds
from reportgen.extensions import db
from reportgen.models import Report, Subscription, utcnow

from ..support.api import post_json
from ..support.payloads import event, student
from ..support.pdf import pdf_pages
from ..support.processes import (ROOT, kill_worker, listening_workers, start_worker, stop_worker, wait_until,
                                 worker_env)

FINAL = ("done", "partly failed", "failed", "skipped", "missed")
ROSTER = [{"student_id": "s-001", "name": "Ada Lovelace", "email": "ada@pupils.example"},
          {"student_id": "s-002", "name": "أمينة حداد", "email": "amina@pupils.example"},
          {"student_id": "s-003", "name": "王小明"}]


def november_class() -> list[dict]:
    return [student("s-001", [event(1, "2024-11-04T10:00:00Z"), event(2, "2024-11-04T10:20:00Z"),
                              event(2, "2024-11-12T09:00:00Z", "submit")], "python-101"),
            student("s-002", [event(1, "2024-11-06T10:00:00Z"), event(3, "2024-11-20T11:00:00Z")], "python-101"),
            student("s-003", [event(1, "2024-11-07T08:00:00Z")], "python-101")]


def start_cron(env: dict, tmp_path, name: str) -> subprocess.Popen:
    """``rq cron`` with our configuration, as ``make run`` and compose start it."""
    log = open(tmp_path / f"{name}.log", "wb")
    with log:
        return subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "--url", env["REDIS_URL"],
                                 "reportgen.subscriptions.cron_config"], cwd=ROOT, env=env, stdout=log, stderr=log,
                                start_new_session=True)


def attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_two_cron_schedulers_and_run_now_make_one_run_and_each_student_gets_only_their_own_report(
        any_database_app, mailbox, tmp_path):
    app, client = any_database_app, any_database_app.test_client()
    box, port = mailbox
    assert post_json(client, "/namespaces/python-101/events", november_class()).status_code == 200
    client.put("/namespaces/python-101", json={"timezone": "Europe/Berlin"})
    client.put("/namespaces/python-101/roster", json=ROSTER)
    created = client.post("/subscriptions", json={
        "namespace": "python-101", "every": "month", "day": 1, "time": "07:00", "formats": ["pdf", "csv"],
        "recipients": ["teacher@school.example"], "students": True})
    subscription = created.get_json()["id"]
    with app.app_context():  # the scheduler was down when 1 December 07:00 came: due within the grace days
        db.session.execute(update(Subscription).where(Subscription.id == subscription).values(
            next_due=to_microseconds(utcnow() - timedelta(hours=1)), next_period="2024-11"))
        db.session.commit()
    env = worker_env(app.config, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                     MAIL_FROM="reports@school.example", REPORTGEN_MAIL_RETRY_INTERVALS="1,1",
                     REPORTGEN_TICK_SECONDS="1")
    crons = []
    try:
        with listening_workers(app.config, tmp_path, 1, **{key: env[key] for key in (
                "SMTP_HOST", "SMTP_PORT", "MAIL_FROM", "REPORTGEN_MAIL_RETRY_INTERVALS")}):
            answers = []
            asking = threading.Thread(target=lambda: answers.append(app.test_client().post(
                f"/subscriptions/{subscription}/run", json={"period": "2024-11"}).status_code))
            crons = [start_cron(env, tmp_path, "cron-1"), start_cron(env, tmp_path, "cron-2")]
            asking.start()
            asking.join()

            def finished():
                runs = client.get(f"/subscriptions/{subscription}/runs").get_json()["runs"]
                return runs if runs and all(run["status"] in FINAL for run in runs) else None

            runs = wait_until(finished, 120, "the run to end")
            wait_until(lambda: client.get(f"/subscriptions/{subscription}").get_json()["next_period"] != "2024-11",
                       60, "a cron tick to claim the period (or find it claimed) and move on")
            empty = client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-08"})
            assert empty.status_code == 202
            skipped = wait_until(lambda: (found := finished()) and len(found) == 2 and found, 60, "the empty run")
    finally:
        for cron in crons:
            stop_worker(cron)
    assert answers[0] in (202, 409)
    [run] = runs
    assert run["period"] == "2024-11" and run["status"] == "done", (run["failures"], run["reason"])
    assert run["emails"] == {"total": 3, "sent": 3, "failed": 0, "waiting": 0, "success_rate": 1.0}
    assert run["without_address"] == ["s-003"]
    assert sorted(report["format"] for report in run["reports"]) == ["csv", "pdf"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 2  # one report per format, once
    by_recipient = {}
    for message in box.messages:
        by_recipient.setdefault(message["To"], []).append(message)
    assert {to: len(messages) for to, messages in by_recipient.items()} == {
        "teacher@school.example": 1, "ada@pupils.example": 1, "amina@pupils.example": 1}
    teacher = by_recipient["teacher@school.example"][0]
    assert set(attachments(teacher)) == {"python-101 – November 2024.pdf", "python-101 – November 2024.csv"}
    class_pdf = "\n".join(pdf_pages(attachments(teacher)["python-101 – November 2024.pdf"]))
    assert all(name in class_pdf for name in ("s-001 · Ada Lovelace", "王小明"))  # the class table names them
    body = teacher.get_body(("plain",)).get_content()
    assert "Students active: 3" in body and "October 2024" in body
    ada = by_recipient["ada@pupils.example"][0]
    ada_files = attachments(ada)
    assert set(ada_files) == {"python-101 – November 2024.pdf", "python-101 – November 2024.csv"}
    ada_pdf = "\n".join(pdf_pages(ada_files["python-101 – November 2024.pdf"]))
    ada_csv = ada_files["python-101 – November 2024.csv"]
    ada_csv = ada_csv.decode() if isinstance(ada_csv, bytes) else ada_csv
    ada_body = ada.get_body(("plain",)).get_content()
    for text in (ada_pdf, ada_csv, ada_body):
        assert "s-001" in text
        assert not any(other in text for other in ("s-002", "s-003", "أمينة", "Amina", "王小明")), text[:3000]
    assert "Ada Lovelace" in ada_pdf and "s-001 · Ada Lovelace" in ada_body
    [empty_run] = [found for found in skipped if found["period"] == "2024-08"]
    assert (empty_run["status"], empty_run["reason"], empty_run["emails"]["total"]) == ("skipped", "skipped: no events", 0)
    assert len(box.messages) == 3


def test_the_smtp_rate_limit_spreads_a_runs_messages_over_minutes_without_holding_a_worker(app, run_worker, mailbox):
    client = app.test_client()
    box, port = mailbox
    assert post_json(client, "/namespaces/python-101/events", november_class()).status_code == 200
    client.put("/namespaces/python-101/roster", json=ROSTER)
    subscription = client.post("/subscriptions", json={
        "namespace": "python-101", "every": "month", "formats": ["csv"], "recipients": ["teacher@school.example"],
        "students": True}).get_json()["id"]
    assert client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-11"}).status_code == 202
    started = time.monotonic()
    run_worker(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), REPORTGEN_SMTP_PER_MINUTE="1")
    assert time.monotonic() - started < 60  # the burst workers ended: nobody waited for the next minute
    [run] = client.get(f"/subscriptions/{subscription}/runs").get_json()["runs"]
    assert len(box.messages) == 1
    assert (run["status"], run["emails"]["sent"], run["emails"]["waiting"]) == ("mailing", 1, 2)
    from rq import Queue
    from redis import Redis

    scheduled = Queue(app.config["REPORTGEN_QUEUE"] + "-deliver",
                      connection=Redis.from_url(app.config["REDIS_URL"])).scheduled_job_registry
    assert len(scheduled.get_job_ids()) == 1  # the run's other two wait for the next minute in Redis, not in a worker


def test_a_busy_smtp_server_is_retried_and_the_message_sent_once_it_answers(app, mailbox, tmp_path):
    client = app.test_client()
    box, port = mailbox
    box.refusal = "451 4.3.0 Mailbox busy, try again later"
    assert post_json(client, "/namespaces/python-101/events", november_class()).status_code == 200
    subscription = client.post("/subscriptions", json={
        "namespace": "python-101", "every": "month", "formats": ["csv"],
        "recipients": ["teacher@school.example"]}).get_json()["id"]
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "reports@school.example",
            "REPORTGEN_MAIL_RETRY_INTERVALS": "1,1"}
    with listening_workers(app.config, tmp_path, 1, **smtp):
        assert client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-11"}).status_code == 202
        wait_until(lambda: box.rcpt_attempts >= 1, 60, "the first attempt")
        box.refusal = None  # the server answers again

        def final():
            [run] = client.get(f"/subscriptions/{subscription}/runs").get_json()["runs"]
            return run if run["status"] in FINAL else None

        run = wait_until(final, 60, "the run to end")
    assert run["status"] == "done" and run["emails"]["sent"] == 1, run
    assert [message["To"] for message in box.messages] == ["teacher@school.example"]
    assert box.rcpt_attempts >= 2


def test_a_delivery_worker_killed_mid_send_is_taken_over_and_no_address_gets_a_message_twice(
        any_database_app, mailbox, tmp_path):
    app, client = any_database_app, any_database_app.test_client()
    box, port = mailbox
    box.stall_at = "ada@pupils.example"  # the teacher's message has gone; Ada's arrives, its answer never does
    assert post_json(client, "/namespaces/python-101/events", november_class()).status_code == 200
    client.put("/namespaces/python-101/roster", json=ROSTER)
    subscription = client.post("/subscriptions", json={
        "namespace": "python-101", "every": "month", "formats": ["csv"], "recipients": ["teacher@school.example"],
        "students": True}).get_json()["id"]
    settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "reports@school.example",
                "REPORTGEN_STALE_AFTER": "2", "REPORTGEN_SWEEP_INTERVAL": "1"}
    worker = start_worker(app.config, tmp_path, "worker", **settings)
    killed = start_worker(app.config, tmp_path, "killed", deliveries=True, **settings)
    replacement = None
    try:
        assert client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-11"}).status_code == 202
        assert box.stalled.wait(60), "the delivery worker never reached Ada's message"
        kill_worker(killed)
        box.release.set()
        replacement = start_worker(app.config, tmp_path, "replacement", deliveries=True, **settings)

        def final():
            [run] = client.get(f"/subscriptions/{subscription}/runs").get_json()["runs"]
            return run if run["status"] in FINAL else None

        run = wait_until(final, 90, "the run to end")
        time.sleep(2)  # a second copy of anything would arrive now
    finally:
        for process in (worker, replacement):
            if process is not None:
                stop_worker(process)
    assert sorted(message["To"] for message in box.messages) == [
        "ada@pupils.example", "amina@pupils.example", "teacher@school.example"]
    assert (run["status"], run["emails"]["sent"], run["emails"]["failed"]) == ("partly failed", 2, 1), run
    [failure] = run["failures"]
    assert failure["recipient"] == "ada@pupils.example"
    assert "stopped during the exchange with the mail server: it may have arrived" in failure["error"]
    assert "its emails resumed, the job sending them was lost" in (tmp_path / "worker.log").read_text() + (
        tmp_path / "replacement.log").read_text()
