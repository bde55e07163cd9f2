"""End to end, as a newcomer sees it: start the `make run` stack, POST a file, time until the report.

    .venv/bin/python bench/e2e_bench.py [--input examples/students.json] [--format pdf html]

Starts ``python -m reportgen.serving.devstack`` (SQLite + embedded Redis + one worker) in a scratch
instance directory on a free port, so it never touches your own data.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, data: bytes | None = None, accept: str = "*/*") -> tuple[int, bytes]:
    headers = {"Accept": accept}
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_up(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            request(f"{base}/assignment/html/none")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the app did not come up")


def time_report(base: str, report_format: str, body: bytes) -> tuple[float, int, dict]:
    started = time.monotonic()
    status, reply = request(f"{base}/assignment/{report_format}", body)
    assert status == 202, reply
    status_url = base + json.loads(reply)["status_url"]
    while True:
        status, reply = request(status_url)
        if status != 202:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    assert status == 200, reply[:500]
    _, metadata = request(status_url, accept="application/json")
    return elapsed, len(reply), json.loads(metadata)


def render_seconds(metadata: dict) -> float:
    start, end = (datetime.fromisoformat(metadata[key].replace("Z", "+00:00")) for key in ("started_at", "finished_at"))
    return (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=ROOT / "examples" / "students.json")
    parser.add_argument("--format", nargs="+", default=["pdf", "html"], choices=["pdf", "html"])
    args = parser.parse_args()
    body = args.input.read_bytes()
    students = json.loads(body)
    events = sum(len(s["events"]) for s in students)
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(PORT=str(port), REPORTGEN_INSTANCE_DIR=scratch)
        launched = time.monotonic()
        stack = subprocess.Popen([sys.executable, "-m", "reportgen.serving.devstack"], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, time.monotonic() + 60)
            print(f"stack up in {time.monotonic() - launched:.1f} s (migrations, Redis, worker, web)")
            print(f"input: {args.input.name}: {len(students)} students, {events} events, {len(body)} bytes")
            for report_format in args.format:
                elapsed, size, metadata = time_report(base, report_format, body)
                print(f"{report_format:>4}: POST → downloadable in {elapsed:6.2f} s, {size:>9} bytes, "
                      f"render {render_seconds(metadata):.2f} s")
        finally:
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=30)


if __name__ == "__main__":
    main()
