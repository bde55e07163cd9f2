"""The stack heals itself: real workers, a real Redis that is SIGKILLed and started again, a
flush, `make run` losing a worker, and an email that cannot be built.

Every test here runs on a Redis of its own (``config`` below), since it kills or flushes it."""
import json
import os
import signal
import time
import urllib.request

import pytest
from redis import Redis

from reportgen import create_app
from reportgen.extensions import db

from ..support.api import status, submit
from ..support.pages import submit_form
from ..support.payloads import event, sample_students, student
from ..support.processes import (RedisServer, make_run_stack, readyz, stack_workers, start_worker, stop_worker,
                                 wait_until)

# A heartbeat every second (a quarter of REPORTGEN_STALE_AFTER); no sweep gets in the way.
QUICK_HEARTBEAT = {"REPORTGEN_STALE_AFTER": "4", "REPORTGEN_SWEEP_INTERVAL": "60"}
HEARTBEAT_SECONDS = 1
LOST = "Redis is unreachable"
BACK = "Redis is reachable again"


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def config(config, redis_server):
    """The test database and queue, on this test's own Redis."""
    return {**config, "REDIS_URL": redis_server.url}


def slow_pdf_students() -> list[dict]:
    """Three students whose PDF event logs take about a second each to render, a chunk each."""
    return [student(f"big-{number}", [event(str(i % 40), f"2024-07-21T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z")
                                      for i in range(3000)]) for number in range(3)]


def test_a_worker_waits_out_a_redis_crash_mid_render_and_the_report_succeeds(client, config, redis_server,
                                                                              tmp_path):
    task_id = submit(client, "pdf", {"students": slow_pdf_students(), "options": {"event_log": True}})
    worker = start_worker(config, tmp_path, "worker", REPORTGEN_LOG_FORMAT="text", **QUICK_HEARTBEAT)
    try:
        wait_until(lambda: status(client, "pdf", task_id)["status"] == "STARTED", 60, "the render to start")
        redis_server.kill()
        time.sleep(2 * HEARTBEAT_SECONDS)  # the worker heartbeats into the outage at least once
        assert worker.poll() is None, "the worker died with Redis"
        redis_server.start()
        done = wait_until(lambda: (body := status(client, "pdf", task_id))["status"] in ("SUCCESS", "FAILURE")
                          and body, 120, "the report to finish")
        assert done["status"] == "SUCCESS" and done["summary"]["failed"] == 0, done
        assert worker.poll() is None, "the worker died after Redis came back"
    finally:
        stop_worker(worker)
    lines = (tmp_path / "worker.log").read_text().splitlines()
    lost, back = [line for line in lines if LOST in line], [line for line in lines if BACK in line]
    assert 1 <= len(lost) == len(back) <= 2, "\n".join(lost + back)  # one line per change, not one per attempt
    assert not [line for line in lines if "could not connect to Redis" in line or "quitting" in line]


def test_after_a_flush_readyz_is_healthy_again_within_one_heartbeat(client, config, tmp_path):
    worker = start_worker(config, tmp_path, "worker", **QUICK_HEARTBEAT)
    try:
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, "the worker to register")
        Redis.from_url(config["REDIS_URL"]).flushall()
        flushed_at = time.monotonic()
        wait_until(lambda: client.get("/readyz").status_code == 200, HEARTBEAT_SECONDS + 3, "/readyz to be healthy")
        assert time.monotonic() - flushed_at <= HEARTBEAT_SECONDS + 1
        task_id = submit(client, "csv", [student("s-1", [event("1", "2024-07-22T10:00:00Z")])])
        wait_until(lambda: status(client, "csv", task_id)["status"] == "SUCCESS", 60, "the worker to take new work")
    finally:
        stop_worker(worker)
    assert "registered again" in (tmp_path / "worker.log").read_text()


def test_make_run_starts_a_killed_worker_again_and_reports_still_get_done(tmp_path):
    with make_run_stack(tmp_path, REPORTGEN_WORKERS="1") as (stack, port):
        wait_until(lambda: len(stack_workers(stack)) == 1 and (readyz(port) or {}).get("status") == "ok", 90,
                   "the stack to be ready")
        [killed] = stack_workers(stack)
        os.killpg(killed.pid, signal.SIGKILL)  # the worker and its scheduler, as the OOM killer might
        [worker] = wait_until(lambda: [w for w in stack_workers(stack) if w.pid != killed.pid], 30,
                              "the worker to be started again")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/assignment/csv", method="POST",
                                         data=json.dumps(sample_students()).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            status_url = json.load(reply)["status_url"]

        def report_status() -> str:
            request = urllib.request.Request(status_url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as reply:
                return json.load(reply)["status"]

        wait_until(lambda: report_status() == "SUCCESS", 60, "the new worker to make the report")
        assert stack.poll() is None and worker.is_running()
        stack.send_signal(signal.SIGINT)
        output, _ = stack.communicate(timeout=60)
    assert stack.returncode == 0, output[-3000:]
    assert "reportgen: worker 1 exited with -9; starting it again in 1 s" in output
    assert "reportgen: worker 1 started again" in output


def test_an_email_that_cannot_be_built_fails_at_once_with_the_reason(config, mailbox, run_worker):
    """A label with a line break cannot be an email's Subject: nothing to retry, so no retries."""
    box, port = mailbox
    app = create_app({**config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port})
    client = app.test_client()
    response = submit_form(client, text=json.dumps(sample_students()), formats=["csv"],
                           label="Week 3\r\nBcc: everyone@school.example", email="teacher@school.example")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    task_id = response.headers["Location"].rpartition("/")[2]
    run_worker(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), REPORTGEN_MAIL_RETRY_INTERVALS="600")
    body = status(client, "csv", task_id)
    assert body["status"] == "SUCCESS"
    [delivery] = body["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("FAILED", 1)
    assert delivery["error"] == ("The message could not be built: its Subject header: "
                                 "Header values may not contain linefeed or carriage return characters")
    assert box.messages == [] and box.rcpt_attempts == 0
    with app.app_context():
        db.engine.dispose()
