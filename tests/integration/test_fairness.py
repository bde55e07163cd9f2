"""Reports finish in the order they came: real workers, real Redis and PostgreSQL, and the
`make run` stack with several workers."""
from __future__ import annotations

import json
import signal
import time

import psutil
from redis import Redis
from rq import Queue
from sqlalchemy import select

from reportgen.extensions import db
from reportgen.models import Report

from ..support.api import submit
from ..support.payloads import event, student
from ..support.processes import make_run_stack, readyz, run_burst_workers, stack_workers


def one_student(number: int) -> list[dict]:
    return [student(f"s{number:03d}", [event(unit, f"2024-07-22T10:{unit:02d}:00Z") for unit in range(10)])]


def finish_order(app, task_ids: list[str]) -> list[str]:
    with app.app_context():
        rows = db.session.execute(select(Report.id, Report.status, Report.finished_at).where(Report.id.in_(task_ids)))
        finished = {report_id: (status, at) for report_id, status, at in rows}
    assert {status for status, _ in finished.values()} == {"SUCCESS"}
    return sorted(task_ids, key=lambda task_id: finished[task_id][1])


def registry_ids(config, suffix: str = "") -> list[str]:
    queue = Queue(config["REPORTGEN_QUEUE"] + suffix, connection=Redis.from_url(config["REDIS_URL"]))
    return queue.finished_job_registry.get_job_ids()


def test_a_one_chunk_report_is_done_by_one_warm_job(client, config, run_worker):
    task_id = submit(client, "pdf", one_student(1))
    result = run_worker()
    assert client.get(f"/assignment/pdf/{task_id}").status_code == 200
    assert registry_ids(config) == [f"{task_id}-c0"] and registry_ids(config, "-finish") == []
    chunk_lines = [json.loads(line) for line in result.stderr.splitlines()
                   if line.startswith("{") and '"chunk 0 rendered"' in line]
    assert [line["warm"] for line in chunk_lines] == [True]  # the renderer was loaded before the fork


def test_an_assembly_is_picked_before_chunks_submitted_after_it(app, client, config, run_worker):
    big = submit(client, "html", [student(f"b{n:03d}", [event(n % 5)]) for n in range(55)])  # 2 chunks
    later = [submit(client, "html", one_student(number)) for number in range(3)]
    run_worker()  # one worker: both chunks of the big report, then its assembly, then the others
    assert finish_order(app, [big, *later]) == [big, *later]
    assert registry_ids(config, "-finish") == [big]


def test_under_a_burst_reports_finish_in_the_order_they_came(app, client, config, tmp_path):
    task_ids = [submit(client, "html", one_student(number)) for number in range(16)]
    run_burst_workers(config, tmp_path, 2)
    order = finish_order(app, task_ids)
    # two workers may swap neighbours, never more: each report is done before any submitted 3 later
    assert all(order.index(task_id) <= position + 2 for position, task_id in enumerate(task_ids)), order
    assert order[:4] != task_ids[-4:]


def test_make_run_starts_the_workers_asked_for_and_ctrl_c_stops_them_all(tmp_path):
    with make_run_stack(tmp_path, REPORTGEN_WORKERS="3") as (stack, port):
        deadline = time.monotonic() + 90
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline:
            workers = stack_workers(stack)
            ready = readyz(port)
            if len(workers) == 3 and ready and ready.get("status") == "ok":
                break
            time.sleep(0.5)
        assert len(workers) == 3, f"{len(workers)} workers"
        everything = psutil.Process(stack.pid).children(recursive=True)
        stack.send_signal(signal.SIGINT)
        output, _ = stack.communicate(timeout=60)
        assert stack.returncode == 0, output[-3000:]
        assert "with 3 workers" in output
        gone, alive = psutil.wait_procs(everything, timeout=10)
        assert alive == [], [process.cmdline() for process in alive]
