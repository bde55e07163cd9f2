"""A student with a long PDF event log is cut into pieces that several real workers render
side by side, merged in order in the upload's document and in the student's own; the
sweeper repairs a lost piece like a lost chunk."""
from __future__ import annotations

import re
import subprocess

from redis import Redis
from sqlalchemy import select, update

from reportgen.domain.batching import MAX_EVENTS_PER_PIECE, piece_rows, plan_pieces
from reportgen.extensions import db
from reportgen.models import Report, ReportItem, ReportPart

from ..support.api import status, submit
from ..support.payloads import event, minutely_student, student
from ..support.pdf import log_numbers, pdf_pages
from ..support.processes import ROOT, WORKER_COMMAND, listening_workers, wait_until, worker_env

EVENTS = 2 * MAX_EVENTS_PER_PIECE + 500
PIECES = plan_pieces(EVENTS)


def long_student() -> dict:
    return minutely_student("long", EVENTS)


def cohort() -> list[dict]:
    return [student("alpha", [event("1", "2024-07-01T08:00:00Z")]), long_student(),
            student("omega", [event("2", "2024-07-02T08:00:00Z")])]


def test_the_plan_cuts_this_student_into_pieces():
    assert PIECES == 3 and piece_rows(EVENTS, 1, PIECES) == (2834, 5668)


def test_two_workers_render_the_pieces_side_by_side_and_every_row_comes_back_in_order(app, client, config,
                                                                                      tmp_path):
    with listening_workers(config, tmp_path, 2) as logs:
        task_id = submit(client, "pdf", cohort(), options={"event_log": True})
        body = wait_until(lambda: (s := status(client, "pdf", task_id))["status"] in ("SUCCESS", "FAILURE") and s,
                          120, "the report to finish")
    assert body["status"] == "SUCCESS", body
    assert [s["status"] for s in body["summary"]["students"]] == ["SUCCESS"] * 3

    rendered = [re.findall(r'"message": "chunk 1 (?:piece \d+ )?rendered"', log.read_text()) for log in logs]
    assert all(rendered), f"one worker rendered every piece: {rendered}"
    assert sum(map(len, rendered)) == PIECES

    combined = client.get(f"/assignment/pdf/{task_id}")
    assert combined.status_code == 200
    assert log_numbers(combined.data) == [1, *range(1, EVENTS + 1), 1]  # alpha, long, omega
    text = "".join(pdf_pages(combined.data))
    starts = [text.index(f"events {first + 1}–{last} of {EVENTS}") for first, last in
              (piece_rows(EVENTS, piece, PIECES) for piece in range(1, PIECES))]
    assert starts == sorted(starts) and text.rindex("omega") > starts[-1]  # the class page names it first

    own = client.get(f"/assignment/pdf/{task_id}/students/1")
    assert own.status_code == 200
    assert log_numbers(own.data) == list(range(1, EVENTS + 1))
    own_text = "".join(pdf_pages(own.data))
    assert "alpha" not in own_text and "omega" not in own_text


def part_states(app, task_id: str) -> list[tuple[int, int, bool]]:
    with app.app_context():
        return [(chunk, piece, stored) for chunk, piece, stored in db.session.execute(
            select(ReportPart.chunk, ReportPart.piece, ReportPart.content.is_not(None))
            .where(ReportPart.report_id == task_id).order_by(ReportPart.chunk, ReportPart.piece))]


def test_a_lost_piece_is_requeued_by_the_sweeper_and_the_report_completes(app, client, config, runner, run_worker):
    task_id = submit(client, "pdf", [long_student()], options={"event_log": True})
    assert part_states(app, task_id) == [(0, piece, False) for piece in range(1, PIECES)]
    Redis.from_url(config["REDIS_URL"]).flushdb()
    app.config["REPORTGEN_STALE_AFTER"] = 0
    result = runner.invoke(args=["reportgen", "sweep"])
    assert result.output == f"sweep: 1 chunks requeued, {PIECES - 1} pieces requeued\n"
    run_worker()
    assert status(client, "pdf", task_id)["status"] == "SUCCESS"
    assert part_states(app, task_id) == [], "the finished PDF holds every page once; its parts are gone"
    assert log_numbers(client.get(f"/assignment/pdf/{task_id}").data) == list(range(1, EVENTS + 1))
    assert log_numbers(client.get(f"/assignment/pdf/{task_id}/students/0").data) == list(range(1, EVENTS + 1))


def render_all_but_the_assembly(app, config, tmp_path, task_id: str) -> None:
    """A real worker renders every chunk and piece of a two-chunk report (short, long) and stops
    before the assembly that the last piece queued."""
    subprocess.run([*WORKER_COMMAND, "--burst", "--max-jobs", str(1 + PIECES)], cwd=ROOT,
                   env=worker_env(config, tmp_path), check=True, capture_output=True, timeout=120)
    assert part_states(app, task_id) == [(0, 0, True), *((1, piece, True) for piece in range(PIECES))]
    assert status(app.test_client(), "pdf", task_id)["status"] == "STARTED"


def two_chunks() -> list[dict]:
    return [student("short", [event("1", "2024-07-01T08:00:00Z")]), long_student()]


def test_a_student_whose_pieces_were_all_stored_but_never_finished_is_finished_by_the_sweeper(
        app, client, config, runner, run_worker, tmp_path):
    task_id = submit(client, "pdf", two_chunks(), options={"event_log": True})
    render_all_but_the_assembly(app, config, tmp_path, task_id)
    with app.app_context():  # as if the last piece's worker died between storing it and finishing the student
        db.session.execute(update(ReportItem).where(ReportItem.report_id == task_id, ReportItem.position == 1)
                           .values(status="STARTED"))
        db.session.execute(update(Report).where(Report.id == task_id)
                           .values(assembly_queued_at=None, progress_current=1))
        db.session.commit()
    Redis.from_url(config["REDIS_URL"]).flushdb()
    app.config["REPORTGEN_STALE_AFTER"] = 0
    assert runner.invoke(args=["reportgen", "sweep"]).output == "sweep: 1 students finished\n"
    run_worker()
    body = status(client, "pdf", task_id)
    assert (body["status"], body["summary"]["succeeded"]) == ("SUCCESS", 2)
    assert log_numbers(client.get(f"/assignment/pdf/{task_id}").data) == [1, *range(1, EVENTS + 1)]


def test_a_piece_that_keeps_killing_its_workers_fails_its_student_alone(app, client, config, runner, run_worker,
                                                                        tmp_path):
    task_id = submit(client, "pdf", two_chunks(), options={"event_log": True})
    render_all_but_the_assembly(app, config, tmp_path, task_id)
    with app.app_context():  # as if piece 1 had been tried as often as allowed, by workers that died
        db.session.execute(update(ReportItem).where(ReportItem.report_id == task_id, ReportItem.position == 1)
                           .values(status="STARTED"))
        db.session.execute(update(ReportPart).where(ReportPart.report_id == task_id, ReportPart.piece == 1)
                           .values(content=None, size=None, attempts=3))
        db.session.execute(update(Report).where(Report.id == task_id)
                           .values(status="STARTED", assembly_queued_at=None, progress_current=1))
        db.session.commit()
    Redis.from_url(config["REDIS_URL"]).flushdb()
    app.config.update(REPORTGEN_STALE_AFTER=0, REPORTGEN_MAX_ATTEMPTS=3)
    assert runner.invoke(args=["reportgen", "sweep"]).output == "sweep: 1 students failed, 1 assemblies queued\n"
    run_worker()
    body = status(client, "pdf", task_id)
    assert body["status"] == "SUCCESS"
    assert [(s["student_id"], s["status"]) for s in body["summary"]["students"]] == [
        ("short", "SUCCESS"), ("long", "FAILURE")]
    assert "stopped unexpectedly 3 times" in body["summary"]["students"][1]["error"]
    assert log_numbers(client.get(f"/assignment/pdf/{task_id}").data) == [1]
