"""Lost work comes back: real workers killed with SIGKILL mid-job, Redis flushed, the sweeper
(``flask reportgen sweep`` and the worker's own periodic sweep) and the JSON logs."""
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from redis import Redis
from rq import Queue
from sqlalchemy import select

from reportgen import create_app
from reportgen.extensions import db
from reportgen.logs import JsonFormatter
from reportgen.models import ReportItem
from reportgen.pipeline.sweeper import sweep

from ..support.api import post_json, status, submit
from ..support.payloads import event, sample_students, student
from ..support.processes import ROOT, free_port, kill_worker, start_worker, stop_worker, wait_until, worker_env

# Settings that make a killed worker's job stale after 2 s and sweep every second.
FAST = {"REPORTGEN_STALE_AFTER": "2", "REPORTGEN_SWEEP_INTERVAL": "1"}
# A student whose PDF takes a second or so to render: time to kill its worker mid-job. Near the
# most that is still one piece (domain.batching.MAX_EVENTS_PER_PIECE), so one job renders it.
BIG_STUDENT_EVENTS = 3900


def big_cohort() -> list[dict]:
    """A big student alone in chunk 0 (over 2,000 events) and a small one in chunk 1."""
    return [
        student("big", [event(str(i % 40), f"2024-07-21T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z")
                        for i in range(BIG_STUDENT_EVENTS)]),
        student("small", [event("1", "2024-07-22T10:00:00Z")]),
    ]


def item(app, task_id: str, position: int) -> ReportItem:
    with app.app_context():
        found = db.session.scalar(select(ReportItem).where(ReportItem.report_id == task_id,
                                                           ReportItem.position == position))
        db.session.expunge_all()
        return found


def kill_a_worker_mid_render(app, client, config, tmp_path) -> str:
    """Submit the big cohort (with the PDF's event log, the part that takes time), let a real
    worker start rendering the big student, SIGKILL it."""
    task_id = submit(client, "pdf", {"students": big_cohort(), "options": {"event_log": True}})
    first = start_worker(config, tmp_path, "killed", **FAST)
    try:
        wait_until(lambda: item(app, task_id, 0).status == "STARTED", 60, "the big student to start")
        time.sleep(0.1)
    finally:
        kill_worker(first)
    big = item(app, task_id, 0)
    assert (big.status, big.attempts) == ("STARTED", 1), "the worker finished before it was killed"
    return task_id


def queued_job_ids(config) -> list[str]:
    return Queue(config["REPORTGEN_QUEUE"], connection=Redis.from_url(config["REDIS_URL"])).get_job_ids()


def finish_queue_job_ids(config) -> list[str]:
    return Queue(config["REPORTGEN_QUEUE"] + "-finish", connection=Redis.from_url(config["REDIS_URL"])).get_job_ids()


def test_a_worker_killed_mid_job_is_found_by_the_next_worker_and_the_report_completes(app, client, config,
                                                                                       tmp_path):
    task_id = kill_a_worker_mid_render(app, client, config, tmp_path)
    assert status(client, "pdf", task_id)["status"] == "STARTED"
    replacement = start_worker(config, tmp_path, "replacement", **FAST)
    try:
        body = wait_until(lambda: (s := status(client, "pdf", task_id))["status"] in ("SUCCESS", "FAILURE") and s,
                          90, "the report to finish")
    finally:
        stop_worker(replacement)
    assert body["status"] == "SUCCESS", body
    assert [(s["student_id"], s["status"]) for s in body["summary"]["students"]] == [
        ("big", "SUCCESS"), ("small", "SUCCESS")]
    assert item(app, task_id, 0).attempts == 2
    big_pdf = client.get(f"/assignment/pdf/{task_id}/students/0")
    assert big_pdf.status_code == 200 and big_pdf.data.startswith(b"%PDF")
    log = (tmp_path / "replacement.log").read_text()
    assert "chunk 0 re-queued: its job was lost" in log


def test_a_student_whose_worker_keeps_dying_fails_alone_once_attempts_are_used_up(app, client, config, tmp_path,
                                                                                 run_worker):
    # The real flow with REPORTGEN_MAX_ATTEMPTS=1: one death uses up the big student's attempts.
    task_id = kill_a_worker_mid_render(app, client, config, tmp_path)
    time.sleep(2.5)  # the killed job's heartbeat is now older than REPORTGEN_STALE_AFTER
    run_worker(REPORTGEN_MAX_ATTEMPTS="1", **FAST)  # sweeps when it starts, then works the queue
    response = client.get(f"/assignment/pdf/{task_id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    body = status(client, "pdf", task_id)
    assert {k: body["summary"][k] for k in ("succeeded", "failed")} == {"succeeded": 1, "failed": 1}
    big, small = body["summary"]["students"]
    assert (big["student_id"], big["status"], small["status"]) == ("big", "FAILURE", "SUCCESS")
    assert big["error"].startswith("The worker rendering this student stopped unexpectedly once; it was given up")
    assert item(app, task_id, 0).attempts == 1
    assert body["progress"] == {"current": 2, "total": 2, "percent": 100}


def test_after_redis_is_flushed_a_sweep_requeues_the_lost_jobs_and_the_reports_complete(app, client, config,
                                                                                      runner, run_worker):
    cohort = [student(f"s{n}", [event(n % 3, "2024-07-22T10:00:00Z")]) for n in range(55)]  # chunks of 50 and 5
    two_chunks = submit(client, "html", cohort)
    one_chunk = submit(client, "csv", sample_students())
    Redis.from_url(config["REDIS_URL"]).flushdb()

    result = runner.invoke(args=["reportgen", "sweep"])
    assert (result.exit_code, result.output) == (0, "sweep: nothing lost\n")  # too fresh to be presumed lost
    assert queued_job_ids(config) == []

    app.config["REPORTGEN_STALE_AFTER"] = 0
    result = runner.invoke(args=["reportgen", "sweep"])
    assert (result.exit_code, result.output) == (0, "sweep: 3 chunks requeued\n")
    assert sorted(queued_job_ids(config)) == sorted([f"{two_chunks}-c0", f"{two_chunks}-c1", f"{one_chunk}-c0"])
    assert runner.invoke(args=["reportgen", "sweep"]).output == "sweep: nothing lost\n"

    run_worker()
    assert client.get(f"/assignment/html/{two_chunks}").status_code == 200
    assert status(client, "html", two_chunks)["summary"]["succeeded"] == 55
    assert client.get(f"/assignment/csv/{one_chunk}").status_code == 200


def test_an_assembly_lost_with_redis_is_requeued(app, client, config, tmp_path, runner, run_worker):
    cohort = [student(f"s{n}", [event(n % 3, "2024-07-22T10:00:00Z")]) for n in range(55)]  # chunks of 50 and 5
    task_id = submit(client, "html", cohort)
    # A real worker renders both chunks, the last queues the assembly, and it stops; then Redis loses it.
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst", "--max-jobs", "2"],
                   cwd=ROOT, env=worker_env(config, tmp_path), check=True, capture_output=True, timeout=120)
    assert finish_queue_job_ids(config) == [task_id]
    Redis.from_url(config["REDIS_URL"]).flushdb()
    app.config["REPORTGEN_STALE_AFTER"] = 0
    assert runner.invoke(args=["reportgen", "sweep"]).output == "sweep: 1 assemblies requeued\n"
    assert finish_queue_job_ids(config) == [task_id]
    run_worker()
    body = status(client, "html", task_id)
    assert (body["status"], body["attempts"], body["summary"]["succeeded"]) == ("SUCCESS", 1, 55)


def test_an_email_whose_job_was_flushed_is_sent_after_a_sweep(config, mailbox, run_worker):
    box, port = mailbox
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_FROM": "reports@school.example"}
    app = create_app({**config, **smtp})
    client = app.test_client()
    smtp_env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "reports@school.example",
                "REPORTGEN_MAIL_RETRY_INTERVALS": "3600"}
    response = post_json(client, "/assignment/csv", {"students": sample_students(), "email": ["t@school.example"]})
    task_id = response.get_json()["task_id"]
    box.refusal = "451 4.3.0 Mailbox busy, try again later"
    run_worker(**smtp_env)  # the report succeeds; the email's retry is scheduled an hour ahead
    [delivery] = status(client, "csv", task_id)["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("QUEUED", 1)
    Redis.from_url(config["REDIS_URL"]).flushdb()
    box.refusal = None

    app.config["REPORTGEN_STALE_AFTER"] = 0
    result = app.test_cli_runner().invoke(args=["reportgen", "sweep"])
    assert result.output == "sweep: 1 deliveries requeued\n"
    run_worker(**smtp_env)
    [delivery] = status(client, "csv", task_id)["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["error"]) == ("SENT", 2, None)
    assert [message["X-Reportgen-Task"] for message in box.messages] == [task_id]
    with app.app_context():
        db.engine.dispose()


def test_two_sweeps_at_once_queue_each_lost_job_once(app, client, config, tmp_path):
    task_ids = [submit(client, "html", sample_students()) for _ in range(3)]
    Redis.from_url(config["REDIS_URL"]).flushdb()
    env = worker_env(config, tmp_path, REPORTGEN_STALE_AFTER="0")
    sweeps = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "reportgen", "sweep"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
              for _ in range(2)]
    outputs = sorted(process.communicate(timeout=60)[0] for process in sweeps)
    assert all(process.returncode == 0 for process in sweeps)
    # Whichever ran second found the jobs alive (or the lock taken): nothing was queued twice.
    assert outputs[0] == "sweep: 3 chunks requeued\n"
    assert outputs[1] in ("sweep: nothing lost\n", "sweep: another sweep is running; nothing done\n")
    assert sorted(queued_job_ids(config)) == sorted(f"{task_id}-c0" for task_id in task_ids)


def test_a_sweep_waits_while_another_holds_the_lock(app, client, config):
    submit(client, "html", sample_students())
    Redis.from_url(config["REDIS_URL"]).flushdb()
    app.config["REPORTGEN_STALE_AFTER"] = 0
    with app.app_context():
        lock = Redis.from_url(config["REDIS_URL"]).lock(f"reportgen:sweep:{config['REPORTGEN_QUEUE']}", timeout=30)
        assert lock.acquire(blocking=False)
        try:
            assert sweep().skipped and queued_job_ids(config) == []
        finally:
            lock.release()
        assert sweep().chunks_requeued == 1


def parse_json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_logs_are_json_lines_that_follow_a_task_from_request_to_jobs(app, client, run_worker):
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    captured = io.StringIO()
    previous = handler.setStream(captured)
    try:
        task_id = submit(client, "html", sample_students())
    finally:
        handler.setStream(previous)
    [queued] = [entry for entry in parse_json_lines(captured.getvalue()) if entry["message"] == "report queued"]
    assert (queued["task_id"], queued["level"], queued["logger"]) == (task_id, "INFO", "reportgen.pipeline.submit")
    assert (queued["students"], queued["format"]) == (2, "html") and queued["time"].endswith("+00:00")

    worker = run_worker()
    entries = parse_json_lines(worker.stderr) + parse_json_lines(worker.stdout)  # every line is one JSON object
    assert entries and all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    about_task = [entry for entry in entries if entry.get("task_id") == task_id]
    messages = [entry["message"] for entry in about_task]
    assert "chunk 0 rendered" in messages
    assert any(message.startswith(f"report {task_id} assembled") for message in messages)
    assert {entry["logger"] for entry in about_task} >= {"reportgen.pipeline.chunks", "reportgen.pipeline.assembly",
                                                         "rq.worker"}
    assert not any(entry.get("task_id") not in (None, task_id) for entry in entries)


def test_gunicorn_writes_json_lines_and_the_access_line_carries_the_task_id(app, config, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2",
         "--access-logfile", "-", "--logger-class", "reportgen.serving.gunicorn_logger.JsonLogger", "wsgi:app"],
        cwd=ROOT, env=worker_env(config, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        body = json.dumps(sample_students()).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/assignment/html", data=body,
                                         headers={"Content-Type": "application/json"})
        response = wait_until(lambda: _try_open(request), 30, "gunicorn to answer")
        task_id = json.load(response)["task_id"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    entries = parse_json_lines(out) + parse_json_lines(err)
    [access] = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    assert (access["method"], access["path"], access["status"], access["task_id"]) == (
        "POST", "/assignment/html", 202, task_id)
    [queued] = [entry for entry in entries if entry["message"] == "report queued"]
    assert queued["task_id"] == task_id


def _try_open(request):
    try:
        return urllib.request.urlopen(request, timeout=5)
    except urllib.error.URLError:
        return None
