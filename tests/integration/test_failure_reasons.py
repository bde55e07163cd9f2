"""A student that fails says why, after one attempt, when trying again would not help: a job
that runs out of its time, and a stored input this version refuses (a 100 KB student id stored
before ids had a bound used to render three times, never be stored, and end as "the worker
stopped unexpectedly 3 times… out of memory" though no worker died). Real workers, both
databases; no traceback in their logs."""
from __future__ import annotations

import json

from sqlalchemy import select, update

from reportgen.extensions import db
from reportgen.models import ReportItem

from ..support.api import status, submit
from ..support.payloads import event, student
from ..support.processes import run_burst_workers


def attempts(app, task_id: str) -> list[int]:
    with app.app_context():
        return db.session.scalars(select(ReportItem.attempts).where(ReportItem.report_id == task_id)
                                  .order_by(ReportItem.position)).all()


def jobs_run(logs: list[str], task_id: str) -> int:
    """How often a worker started the report's chunk job."""
    return sum(f"render students ({task_id}-c0)" in line for log in logs for line in log.splitlines())


def test_a_job_out_of_time_fails_its_student_saying_so_and_is_not_retried(any_database_app, tmp_path):
    app = any_database_app
    app.config["REPORTGEN_JOB_TIMEOUT"] = 1
    client = app.test_client()
    # One student's HTML is one job however long (a PDF's event log is cut into pieces of ~1 s):
    # 60,000 events on 1,000 units take several seconds of a quiet core.
    many_units = student("many-units", [event(f"unit-{n % 1000:04d}", f"2024-{1 + n // 40000:02d}-"
                                              f"{1 + n // 1440 % 27:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00Z")
                                        for n in range(60_000)])
    task_id = submit(client, "html", [many_units])
    logs = run_burst_workers(app.config, tmp_path, 1)
    body = status(client, "html", task_id)
    assert body["status"] == "FAILURE"
    assert body["error"] == ("All 1 students failed; the first error: Rendering this student took longer than the 1 s "
                             "a job may take (REPORTGEN_JOB_TIMEOUT); it was not tried again, since it would take as "
                             "long again.")
    assert "out of memory" not in body["error"]
    assert attempts(app, task_id) == [1] and jobs_run(logs, task_id) == 1
    assert not any("Traceback" in log for log in logs)


def test_an_input_this_version_refuses_fails_once_with_the_reason(any_database_app, tmp_path):
    app = any_database_app
    client = app.test_client()
    task_id = submit(client, "pdf", [student("kept", [event(1, "2024-07-01T08:00:00Z")]),
                                     student("long-id", [event(2, "2024-07-01T09:00:00Z")])])
    with app.app_context():  # as a version without bounds stored it
        db.session.execute(update(ReportItem).where(ReportItem.report_id == task_id, ReportItem.position == 1)
                           .values(input_json=json.dumps([student("x" * 100_000, [event(2, "2024-07-01T09:00:00Z")])])))
        db.session.commit()
    logs = run_burst_workers(app.config, tmp_path, 1)
    body = status(client, "pdf", task_id)
    assert body["status"] == "SUCCESS" and body["summary"]["succeeded"] == 1
    [failed] = [item for item in body["summary"]["students"] if item["status"] == "FAILURE"]
    assert "student_id has 100,000 characters; a student id may have at most 256" in failed["error"]
    assert "stopped unexpectedly" not in failed["error"] and "out of memory" not in failed["error"]
    assert attempts(app, task_id) == [1, 1] and jobs_run(logs, task_id) == 1
