"""``make run`` leaves nothing behind: the terminal closing (SIGHUP) stops it like Ctrl-C, and a
supervisor killed outright (SIGKILL) is followed within 10 s by every process it started (the
web server and its workers, the report and delivery workers, a busy work horse, the embedded
Redis), the port free again; a Redis a dead run left behind is stopped at the next start.
Each on SQLite and on PostgreSQL."""
from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import pytest

from ..support.payloads import minutely_student
from ..support.processes import (make_run_stack, port_is_free, readyz, stack_processes, stack_workers, still_running,
                                 wait_until)

#: What the acceptance asks: nothing of the stack 10 s after the supervisor got the signal.
GONE_WITHIN = 10


@pytest.fixture(params=["sqlite", "postgresql"])
def stack_database(request) -> dict[str, str]:
    """The environment that points a ``make run`` at the database (SQLite: its default)."""
    return {} if request.param == "sqlite" else {"DATABASE_URL": request.getfixturevalue("database_url")}


def post(port: int, path: str, body) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def report_status(status_url: str) -> str:
    request = urllib.request.Request(status_url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)["status"]


def ready(stack, port: int, workers: int) -> None:
    wait_until(lambda: len(stack_workers(stack)) == workers and (readyz(port) or {}).get("status") == "ok", 120,
               "the stack to be ready")


def busy_horse(stack, port: int):
    """Submit a report that keeps a work horse busy for a while; the horse, once it runs."""
    status_url = post(port, "/assignment/pdf", {"students": [minutely_student("long", 30_000)],
                                                "options": {"event_log": True}})["status_url"]
    wait_until(lambda: report_status(status_url) == "STARTED", 60, "a worker to start the report")
    return wait_until(lambda: [child for worker in stack_workers(stack) for child in worker.children()
                               if os.getpgid(child.pid) == child.pid], 30,  # RQ's horse leads a group of its own
                      "the work horse")


def gone(processes: list, port: int, started: float) -> float:
    """Seconds from ``started`` until none of ``processes`` runs and ``port`` is free (fails past 10 s)."""
    wait_until(lambda: not still_running(processes) and port_is_free(port), GONE_WITHIN - (time.monotonic() - started),
               f"the stack to be gone; still running: {still_running(processes)}")
    return time.monotonic() - started


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGKILL], ids=["SIGHUP", "SIGKILL"])
def test_no_process_of_make_run_outlives_its_supervisor(tmp_path, stack_database, signum):
    with make_run_stack(tmp_path, REPORTGEN_WORKERS="2", **stack_database) as (stack, port):
        ready(stack, port, workers=2)
        horses = busy_horse(stack, port)
        processes = stack_processes(stack, tmp_path / "instance")
        assert set(horses) <= set(processes)
        names = " ".join(" ".join(process.cmdline()) for process in processes)
        assert "gunicorn" in names and "--deliveries" in names and "--guard" in names and "redis-server" in names

        started = time.monotonic()
        os.kill(stack.pid, signum)
        stack.wait(timeout=GONE_WITHIN)
        seconds = gone(processes, port, started)
        output = stack.stdout.read()
    print(f"{signal.Signals(signum).name}: every process of the stack gone and the port free in {seconds:.1f} s")
    if signum == signal.SIGHUP:
        assert stack.returncode == 0 and "reportgen: stopped" in output, output[-3000:]


def test_a_redis_a_dead_run_left_behind_is_stopped_at_the_next_start(tmp_path, stack_database):
    with make_run_stack(tmp_path, REPORTGEN_WORKERS="1", **stack_database) as (stack, port):
        ready(stack, port, workers=1)
        processes = stack_processes(stack, tmp_path / "instance")
        [redis] = [process for process in processes if process.name() == "redis-server"]
        [guardian] = [process for process in processes if "--guard" in process.cmdline()]
        guardian.kill()  # the run dies with its guardian: nobody is left to stop its Redis
        wait_until(lambda: not still_running([guardian]), 10, "the guardian to die")
        os.kill(stack.pid, signal.SIGKILL)
        stack.wait(timeout=10)
        for process in still_running(processes):
            if process != redis:
                process.kill()
        wait_until(lambda: still_running(processes) == [redis] and port_is_free(port), 30, "only Redis to be left")

    with make_run_stack(tmp_path, REPORTGEN_WORKERS="1", **stack_database) as (stack, port):
        ready(stack, port, workers=1)
        assert not still_running([redis])
        status_url = post(port, "/assignment/csv", {"students": [minutely_student("s", 3)]})["status_url"]
        wait_until(lambda: report_status(status_url) == "SUCCESS", 60, "a report on the new Redis")
        stack.send_signal(signal.SIGINT)
        output, _ = stack.communicate(timeout=30)
    assert f"reportgen: stopped the embedded Redis (pid {redis.pid}) that a run which died left behind" in output


def test_a_second_make_run_on_the_same_instance_refuses_to_start(tmp_path):
    with make_run_stack(tmp_path, REPORTGEN_WORKERS="1") as (stack, port):
        ready(stack, port, workers=1)
        with make_run_stack(tmp_path, REPORTGEN_WORKERS="1") as (second, _):
            output, _ = second.communicate(timeout=30)
        assert second.returncode == 1
        assert "another `make run` is using" in output and "REPORTGEN_INSTANCE_DIR" in output
        assert (readyz(port) or {}).get("status") == "ok"
