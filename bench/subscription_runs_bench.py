"""Many subscriptions due in the same minute on ``make run`` (issue 22: 100 × 30 students, every run
done and every email handed to SMTP in ≤ 120 s, none sent twice).

    .venv/bin/python bench/subscription_runs_bench.py --subscriptions 100 --students 30 --format pdf

Starts the ``make run`` stack (bench/stack.py: its default workers, the delivery worker and
``rq cron`` with the tick every ``--tick`` seconds) against an SMTP server on loopback (aiosmtpd)
that counts what it receives. Through the API it stores ``--subscriptions`` classes of
``--students`` students (a month of events each, a roster with every student's address) and one
monthly subscription each (``formats``: ``--format``, one teacher, ``"students": true``); then
makes them all due at once (their next run an hour ago: the scheduler was down) and times, from
there, until every run is final and the sink has every message. It prints the time, the messages
received, and any address that got more than one message of a run (a duplicate).

With ``--second-cron`` a second ``rq cron`` runs beside the stack's (the same command and
environment), and with ``--kill delivery`` (or ``worker``) that worker is SIGKILLed with its work
horse ``--kill-after`` seconds after the runs are due, as the OOM killer would; ``make run``
restarts it and the sweeper takes over its work. Duplicates are counted at the sink all the same.

The reference, measured in the same run: one class of the same size as a plain
``POST /assignment/<format>`` period report, polled to the end (what one run's report costs alone).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sqlite3
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import DevStack, free_port, get  # noqa: E402


class Sink:
    def __init__(self):
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        subject = next((line for line in envelope.content.decode("utf-8", "replace").splitlines()
                        if line.startswith("Subject:")), "")
        self.received.extend((rcpt, subject) for rcpt in envelope.rcpt_tos)
        return "250 OK"


def send(base: str, method: str, path: str, body=None, content_type="application/json") -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def class_events(number: int, students: int) -> list[dict]:
    start = datetime(2024, 11, 1, 8, tzinfo=timezone.utc)
    return [{"student_id": f"s-{student:03d}", "events": [
        {"unit": str(1 + (student + event) % 8), "type": "saved_code" if event % 3 else "submitted",
         "created_time": (start + timedelta(days=(student + event * 3) % 28, minutes=7 * event)).isoformat()}
        for event in range(20)]} for student in range(students)]


def stack_process(stack: DevStack, wanted: str) -> int:
    """The pid of the stack's ``rq cron`` (``cron``), delivery worker (``delivery``) or first
    report worker (``worker``)."""
    for pid, cmdline in sorted(stack.processes()):
        if wanted == "cron" and "rq.cli cron" in cmdline:
            return pid
        if wanted == "delivery" and cmdline.endswith("worker --deliveries"):
            return pid
        if wanted == "worker" and cmdline.endswith(" worker"):
            return pid
    raise LookupError(f"no {wanted} process in the stack")


def second_cron(stack: DevStack) -> subprocess.Popen:
    """Another ``rq cron`` with the same command line and environment as the stack's."""
    pid = stack_process(stack, "cron")
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        argv = [part.decode() for part in handle.read().split(b"\0") if part]
    with open(f"/proc/{pid}/environ", "rb") as handle:
        env = dict(part.decode(errors="replace").split("=", 1) for part in handle.read().split(b"\0") if b"=" in part)
    return subprocess.Popen(argv, env=env, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def kill_with_horse(pid: int) -> list[int]:
    import psutil

    process = psutil.Process(pid)
    members = [*process.children(recursive=True), process]
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    return [member.pid for member in members]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--format", default="pdf")
    parser.add_argument("--tick", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--second-cron", action="store_true", help="a second rq cron beside the stack's")
    parser.add_argument("--kill", choices=("delivery", "worker"), help="SIGKILL this worker and its horse mid-run")
    parser.add_argument("--kill-after", type=float, default=20, help="seconds after the runs are due")
    args = parser.parse_args()
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "reports@school.example",
           "REPORTGEN_RATE_LIMIT": "", "REPORTGEN_SUBMIT_RATE_LIMIT": "", "REPORTGEN_TICK_SECONDS": str(args.tick),
           "REPORTGEN_LOG_FORMAT": "text"}
    try:
        with DevStack(env=env) as stack:
            stack.wait_ready()
            base = stack.base
            started = time.monotonic()
            status, body = send(base, "POST", "/namespaces/reference/events", class_events(0, args.students))
            assert status == 200, body
            status, body = send(base, "POST", f"/assignment/{args.format}", {"namespace": "reference", "period": "2024-11"})
            task = body["task_id"]
            while get(f"{base}/assignment/{args.format}/{task}")[0] == 202:
                time.sleep(0.2)
            reference = time.monotonic() - started
            print(f"reference: one period report of {args.students} students ({args.format}): {reference:.1f} s")
            for number in range(args.subscriptions):
                namespace = f"class-{number:03d}"
                assert send(base, "POST", f"/namespaces/{namespace}/events", class_events(number, args.students))[0] == 200
                roster = [{"student_id": f"s-{student:03d}", "name": f"Student {student}",
                           "email": f"c{number}s{student}@pupils.example"} for student in range(args.students)]
                assert send(base, "PUT", f"/namespaces/{namespace}/roster", roster)[0] == 200
                status, body = send(base, "POST", "/subscriptions", {
                    "namespace": namespace, "every": "month", "formats": [args.format],
                    "recipients": [f"teacher{number}@school.example"], "students": True})
                assert status == 201, body
            due = int((datetime.now(timezone.utc) - timedelta(hours=1)).timestamp() * 1_000_000)
            with sqlite3.connect(stack.database) as connection:  # due an hour ago: the scheduler was down
                connection.execute("UPDATE subscriptions SET next_due = ?, next_period = '2024-11'", (due,))
            extra_cron = second_cron(stack) if args.second_cron else None
            started = time.monotonic()
            expected = args.subscriptions * (args.students + 1)
            killed = None
            while time.monotonic() - started < args.timeout:
                if args.kill and killed is None and time.monotonic() - started >= args.kill_after:
                    killed = kill_with_horse(stack_process(stack, args.kill))
                    print(f"killed the {args.kill} worker at {time.monotonic() - started:.1f} s "
                          f"(pids {killed}; messages at the sink then: {len(sink.received):,})")
                with sqlite3.connect(stack.database) as connection:
                    final = connection.execute("SELECT count(*) FROM subscription_runs WHERE status IN "
                                               "('done', 'partly failed', 'failed', 'skipped', 'missed')").fetchone()[0]
                if final == args.subscriptions and len(sink.received) >= expected:
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            with sqlite3.connect(stack.database) as connection:
                statuses = Counter(row[0] for row in connection.execute("SELECT status FROM subscription_runs"))
            time.sleep(3)  # anything sent twice would arrive now
            duplicates = [address for address, count in Counter(rcpt for rcpt, _ in sink.received).items() if count > 1]
            print(f"{args.subscriptions} subscriptions × {args.students} students ({args.format}), due at once: "
                  f"{elapsed:.1f} s until every run ended and the sink had {len(sink.received):,} of {expected:,} "
                  f"messages; runs {dict(statuses)}; addresses with more than one message: {len(duplicates)}")
            with sqlite3.connect(stack.database) as connection:
                failed = connection.execute("SELECT error, count(*) FROM subscription_emails WHERE status = 'FAILED' "
                                            "GROUP BY error").fetchall()
            for error, count in failed:
                print(f"  {count} message(s) failed: {error}")
            print(f"CPU seconds per role: {stack.cpu_seconds()}")
            if extra_cron is not None:
                os.killpg(extra_cron.pid, 15)
                extra_cron.wait(timeout=30)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
