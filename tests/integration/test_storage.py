"""What a report costs in the database, and old reports expiring: the input is stored once
(compressed), documents once; after REPORTGEN_RETENTION_DAYS the sweeper deletes them and a
tombstone answers 410 Gone."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from reportgen.extensions import db
from reportgen.models import Report, ReportItem, ReportPart, utcnow
from reportgen.pipeline.sweeper import sweep

from ..support.api import status, submit
from ..support.payloads import event, sample_students, student
from ..support.processes import run_burst_workers


def five_megabytes() -> list[dict]:
    """250 students of 240 events each: about 5 MB of JSON."""
    return [student(f"student-{n:03d}", [event(f"unit-{(n + i) % 25}", f"2024-07-{1 + i // 96:02d}T"
                                               f"{i // 4 % 24:02d}:{i % 4 * 15:02d}:00Z", "saved_code")
                                         for i in range(240)])
            for n in range(250)]


def stored_bytes(app, task_id: str) -> int:
    """Every byte the report keeps of input and documents, as the database holds them."""
    with app.app_context():
        report = db.session.scalar(select(func.coalesce(func.octet_length(Report.content), 0)
                                          + func.coalesce(func.octet_length(Report.input_json), 0)
                                          + func.coalesce(func.octet_length(Report.sequences), 0))
                                   .where(Report.id == task_id))
        items = db.session.scalar(select(func.coalesce(func.sum(func.octet_length(ReportItem.input_json)
                                                                + func.coalesce(func.octet_length(ReportItem.content), 0)
                                                                + func.coalesce(func.octet_length(ReportItem.metrics),
                                                                                0)), 0))
                                  .where(ReportItem.report_id == task_id))
        parts = db.session.scalar(select(func.coalesce(func.sum(func.octet_length(ReportPart.content)), 0))
                                  .where(ReportPart.report_id == task_id))
        return report + items + parts


@pytest.mark.capacity  # ~66 s of the suite's time; the capacity tier measures storage with the other shapes
@pytest.mark.parametrize("report_format", ["csv", "html", "pdf"])
def test_a_5_mb_upload_costs_well_under_three_times_its_size(app, client, run_worker, report_format):
    upload = five_megabytes()
    size = len(json.dumps(upload).encode())
    assert 4.5e6 < size < 5.5e6
    task_id = submit(client, report_format, upload)
    run_worker()
    assert status(client, report_format, task_id)["status"] == "SUCCESS"
    assert client.get(f"/assignment/{report_format}/{task_id}").status_code == 200
    stored = stored_bytes(app, task_id)
    print(f"{report_format}: {size / 1e6:.1f} MB upload stores {stored / 1e6:.2f} MB ({stored / size:.2f}x)")
    assert stored < 1.5 * size


def small_students(count: int, events: int = 1, apart: timedelta = timedelta(minutes=5)) -> list[dict]:
    """``count`` students of ``events`` events each, on as many units, ``apart`` from each other:
    about 130 bytes of JSON a one-event student, 70 more an event."""
    start = datetime(2024, 7, 1, 8, tzinfo=timezone.utc)
    return [student(f"s{n:05d}", [event(str((n + i) % 5), (start + i * apart).isoformat().replace("+00:00", "Z"))
                                  for i in range(events)], namespace="n1")
            for n in range(count)]


def stored_breakdown(app, task_id: str) -> dict[str, int]:
    """The bytes the report keeps, by what holds them, as the database stores them (both databases)."""
    def total(*columns, where) -> int:
        return db.session.scalar(select(func.coalesce(func.sum(sum(func.coalesce(func.length(column), 0)
                                                                   for column in columns)), 0)).where(where)) or 0

    with app.app_context():
        return {
            "report": total(Report.content, Report.input_json, where=Report.id == task_id),
            "sequences": total(Report.sequences, where=Report.id == task_id),
            "inputs": total(ReportItem.input_json, where=ReportItem.report_id == task_id),
            "metrics": total(ReportItem.metrics, where=ReportItem.report_id == task_id),
            "own documents": total(ReportItem.content, where=ReportItem.report_id == task_id),
            "parts": total(ReportPart.content, where=ReportPart.report_id == task_id),
        }


@pytest.mark.capacity
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("report_format, count, events, apart", [
    ("csv", 20_000, 1, None), ("html", 20_000, 1, None), ("pdf", 20_000, 1, None),
    ("pdf", 2_000, 2, timedelta(minutes=5)), ("pdf", 2_000, 2, timedelta(days=9)),
])
def test_thousands_of_one_event_students_cost_at_most_three_times_the_upload(any_database_app, tmp_path,
                                                                           report_format, count, events, apart):
    """And two-event students as a PDF: with a page each, 3.06x their upload minutes apart; days
    apart, each carries the activity chart and its figures (3.16x before 0023's preset)."""
    app = any_database_app
    upload = small_students(count, events, apart or timedelta(0))
    size = len(json.dumps(upload).encode())
    task_id = submit(app.test_client(), report_format, upload)
    run_burst_workers(app.config, tmp_path, 2, timeout=1500)
    client = app.test_client()
    assert status(client, report_format, task_id)["status"] == "SUCCESS"
    own = client.get(f"/assignment/{report_format}/{task_id}/students/{count - 1}")
    assert own.status_code == 200
    assert own.data.startswith(b"%PDF") if report_format == "pdf" else f"s{count - 1:05d}".encode() in own.data
    parts = stored_breakdown(app, task_id)
    stored = sum(parts.values())
    print(f"{report_format}: {count:,} x {events} ({size / 1e6:.2f} MB) stores {stored / 1e6:.2f} MB ({stored / size:.2f}x): "
          + ", ".join(f"{name} {value / 1e6:.2f} MB" for name, value in parts.items()), flush=True)
    assert stored <= 3 * size


def test_an_expired_report_keeps_a_tombstone_that_answers_410(app, client, run_worker):
    task_id = submit(client, "pdf", sample_students())
    kept = submit(client, "csv", [student("kept", [event("1", "2024-07-01T08:00:00Z")])])
    run_worker()
    body = status(client, "pdf", task_id)
    finished = body["finished_at"]
    assert body["expires_at"] > finished and "purged_at" not in body
    with app.app_context():
        db.session.execute(db.update(Report).where(Report.id == kept).values(finished_at=utcnow()))
        db.session.execute(db.update(Report).where(Report.id == task_id)
                           .values(finished_at=utcnow() - timedelta(days=31)))
        db.session.commit()
        assert sweep().reports_expired == 1  # a clock 31 days on for one of them
        assert sweep().reports_expired == 0

    gone = client.get(f"/assignment/pdf/{task_id}")
    assert gone.status_code == 410
    assert "deleted" in gone.get_json()["error"] and "30 days" in gone.get_json()["error"]
    assert client.get(f"/assignment/pdf/{task_id}/students/0").status_code == 410
    assert client.get(f"/assignment/pdf/{task_id}?bundle=zip").status_code == 410
    tombstone = status(client, "pdf", task_id)
    assert (tombstone["status"], tombstone["purge_reason"]) == ("SUCCESS", "expired")
    assert tombstone["expires_at"] == tombstone["purged_at"]
    assert tombstone["summary"]["total"] == 2
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert "No longer available" in page and f"/assignment/pdf/{task_id}\"" not in page
    assert "Deleted: this report is no longer available." in page and "is ready" not in page
    assert re.search(r"data was deleted on \d{4}-\d\d-\d\d \d\d:\d\d UTC: reports are kept 30 days", page)
    assert client.get(f"/assignment/csv/{kept}").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportItem)
                                 .where(ReportItem.report_id == task_id)) == 0
        assert db.session.scalar(select(Report.content).where(Report.id == task_id)) is None


def test_retention_zero_keeps_reports_for_ever(app, client, run_worker):
    task_id = submit(client, "csv", sample_students())
    run_worker()
    app.config["REPORTGEN_RETENTION_DAYS"] = 0
    assert status(client, "csv", task_id)["expires_at"] is None
    with app.app_context():
        db.session.execute(db.update(Report).where(Report.id == task_id)
                           .values(finished_at=utcnow() - timedelta(days=3650)))
        db.session.commit()
        assert sweep().reports_expired == 0
    assert client.get(f"/assignment/csv/{task_id}").status_code == 200
