"""Reports rendered by a real RQ worker process on PostgreSQL and Redis."""
import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile

import pytest
from pypdf import PdfReader
from redis import Redis
from rq import Queue
from rq.exceptions import StopRequested
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select, text, update

from reportgen import create_app
from reportgen.extensions import db
from reportgen.models import Report, ReportItem
from reportgen.pipeline.queue import RENDER_CHUNK, enqueue_assembly, enqueue_report, redis_connection, report_queue
from reportgen.pipeline.worker import ReportWorker

from ..support.api import post_json, submit
from ..support.database import corrupt_student
from ..support.payloads import event, sample_students, student
from ..support.processes import ROOT, worker_env


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_worker_renders_pdf_with_ids_labels_and_non_latin_text(app, client, run_worker):
    task_id = submit(client, "pdf", sample_students())
    run_worker()
    response = client.get(f"/assignment/pdf/{task_id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text_in_pdf = pdf_text(response.data)
    for expected in ("alice", "Zoë Дмитрий Ωμέγα", "Q1", "Q2", "Q3", "Q4", "course-1"):
        assert expected in text_in_pdf
    with app.app_context():
        report = db.session.get(Report, task_id)
        assert report.status == "SUCCESS"
        assert (report.progress_current, report.progress_total) == (2, 2)
        assert report.size == len(response.data)
        assert report.sha256 == hashlib.sha256(response.data).hexdigest()
        assert report.finished_at is not None and report.error is None
    metadata = client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert metadata["sequences"]["students"][0] == {
        "student_id": "alice", "namespace": "course-1", "sequence": ["Q1", "Q4", "Q4"]}


def test_worker_renders_html_with_user_data_escaped(client, run_worker):
    hostile = "<script>alert(1)</script>"
    task_id = submit(client, "html", [student(hostile, [event("<b>7</b>", "2024-07-21T03:04:55Z", "<i>x</i>")])])
    run_worker()
    response = client.get(f"/assignment/html/{task_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert hostile not in page and "<b>7</b>" not in page and "<i>x</i>" not in page


def test_a_bad_student_fails_alone_once_and_the_batch_succeeds(app, client, config, run_worker):
    task_id = submit(client, "pdf", sample_students())
    corrupt_student(app, task_id, 0)
    run_worker()
    response = client.get(f"/assignment/pdf/{task_id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text_in_pdf = pdf_text(response.data)
    assert "Zoë Дмитрий Ωμέγα" in text_in_pdf and "alice" not in text_in_pdf
    metadata = client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert metadata["sequences"]["students"] == [  # the submit's sequences, but the failed student's
        {"student_id": "Zoë Дмитрий Ωμέγα", "namespace": "course-1", "sequence": ["Q3", "Q2"]}]
    summary = metadata["summary"]
    assert {k: summary[k] for k in ("total", "succeeded", "failed", "success_rate")} == {
        "total": 2, "succeeded": 1, "failed": 1, "success_rate": 0.5}
    failed, ok = summary["students"]
    assert (failed["student_id"], failed["status"], failed["download_url"]) == ("alice", "FAILURE", None)
    assert "student_id" in failed["error"]
    assert ok["download_url"] == f"http://localhost/assignment/pdf/{task_id}/students/1"
    assert client.get(f"/assignment/pdf/{task_id}/students/0").status_code == 500
    registry = ScheduledJobRegistry(config["REPORTGEN_QUEUE"], connection=Redis.from_url(config["REDIS_URL"]))
    assert registry.get_job_ids() == []
    with app.app_context():
        assert db.session.scalar(select(ReportItem.attempts).where(
            ReportItem.report_id == task_id, ReportItem.position == 0)) == 1


def test_a_report_queued_before_the_submit_made_its_sequences_gets_them_when_it_is_assembled(app, client, run_worker):
    queued_before = submit(client, "pdf", sample_students())
    made_at_submit = submit(client, "pdf", sample_students())
    with app.app_context():  # as a version whose assembly made the sequences stored it
        db.session.execute(update(Report).where(Report.id == queued_before).values(sequences=None))
        db.session.commit()
    run_worker()
    before, now = (client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
                   for task_id in (queued_before, made_at_submit))
    assert before["status"] == now["status"] == "SUCCESS"
    assert [entry["sequence"] for entry in now["sequences"]["students"]] == [["Q1", "Q4", "Q4"], ["Q3", "Q2"]]
    assert before["sequences"] == now["sequences"]


def test_when_every_student_fails_the_report_fails_with_a_readable_error(app, client, run_worker):
    task_id = submit(client, "html", [student("only", [event(1)])])
    corrupt_student(app, task_id, 0)
    run_worker()
    response = client.get(f"/assignment/html/{task_id}")
    assert response.status_code == 500
    body = response.get_json()
    assert body["status"] == "FAILURE" and body["error"].startswith("All 1 students failed; the first error:")
    assert body["summary"]["failed"] == 1


def test_database_outage_is_retried_with_backoff_then_succeeds(app, client, config, run_worker):
    task_id = submit(client, "html", sample_students())
    run_worker(DATABASE_URL="postgresql+psycopg2://postgres@127.0.0.1:1/unreachable")
    redis = Redis.from_url(config["REDIS_URL"])
    registry = ScheduledJobRegistry(config["REPORTGEN_QUEUE"], connection=redis)
    assert registry.get_job_ids() == [f"{task_id}-c0"]
    assert Queue(config["REPORTGEN_QUEUE"], connection=redis).fetch_job(f"{task_id}-c0").retries_left == 1
    assert client.get(f"/assignment/html/{task_id}").get_json()["status"] == "PENDING"
    time.sleep(1.5)
    run_worker()
    assert client.get(f"/assignment/html/{task_id}").status_code == 200


def test_duplicate_jobs_do_not_redo_a_finished_report(app, client, run_worker):
    task_id = submit(client, "html", sample_students())
    run_worker()
    first = client.get(f"/assignment/html/{task_id}", headers={"Accept": "application/json"}).get_json()
    with app.app_context():
        enqueue_report(task_id, 1)
        enqueue_assembly(task_id)
    run_worker()
    again = client.get(f"/assignment/html/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert (again["sha256"], again["finished_at"], again["progress"]) == (
        first["sha256"], first["finished_at"], {"current": 2, "total": 2, "percent": 100})


def test_render_command_needs_no_redis_or_database(runner, tmp_path):
    source = tmp_path / "students.json"
    source.write_text(json.dumps(sample_students()), encoding="utf-8")
    output = tmp_path / "out.pdf"
    result = runner.invoke(args=["render", str(source), "--format", "pdf", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(b"%PDF")
    assert "Zoë Дмитрий Ωμέγα" in pdf_text(output.read_bytes())


def test_render_command_reports_invalid_input_with_paths(runner, tmp_path):
    source = tmp_path / "bad.json"
    source.write_text('[{"student_id": "a", "events": [{"type": "x"}]}]', encoding="utf-8")
    result = runner.invoke(args=["render", str(source), "-o", str(tmp_path / "out.pdf")])
    assert result.exit_code == 2
    assert "[0].events[0].unit: is required" in result.output
    assert not (tmp_path / "out.pdf").exists()


def test_sqlite_default_when_database_url_is_unset(config, tmp_path, monkeypatch, run_worker):
    instance = tmp_path / "instance"
    monkeypatch.setenv("REPORTGEN_INSTANCE_DIR", str(instance))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = worker_env(config, tmp_path, DATABASE_URL="")
    migrated = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    assert (instance / "reportgen.sqlite3").exists()
    sqlite_config = {k: v for k, v in config.items() if k != "SQLALCHEMY_DATABASE_URI"}
    app = create_app(sqlite_config)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'reportgen.sqlite3'}"
    Redis.from_url(config["REDIS_URL"]).flushdb()
    client = app.test_client()
    task_id = submit(client, "pdf", sample_students())
    run_worker(DATABASE_URL="")
    response = client.get(f"/assignment/pdf/{task_id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        db.engine.dispose()


def test_a_stop_signal_during_the_sweep_stops_the_worker_but_a_failed_sweep_does_not(app):
    """RQ's warm shutdown raises StopRequested wherever the main process is, the sweep included."""
    def signalled():
        raise StopRequested()

    def broken():
        raise RuntimeError("database unreachable")

    with app.app_context():
        for sweep, stops in ((signalled, True), (broken, False)):
            worker = ReportWorker([report_queue()], connection=redis_connection(), sweep=sweep)
            if stops:
                with pytest.raises(StopRequested):
                    worker.run_sweep()
            else:
                worker.run_sweep()
                assert worker.last_swept_at is not None


def test_an_unexpected_job_error_reaches_rq_and_its_dashboard_as_fixed_text(client, config, run_worker):
    """rq-dashboard shows exception text unescaped; database errors quote the values they choke on."""
    task_id = post_json(client, "/assignment/html", sample_students()).get_json()["task_id"]
    markup = "<img src=x onerror=alert(1)>"
    queue = Queue(config["REPORTGEN_QUEUE"], connection=Redis.from_url(config["REDIS_URL"]))
    job = queue.enqueue_call(RENDER_CHUNK, args=(task_id, markup), description="render students",
                             at_front=True)  # before the report's own chunk, which finishes the report
    result = run_worker()
    job.refresh()
    assert job.get_status() == "failed"
    failure = job.latest_result().exc_string
    assert "JobFailed: unexpected DataError; the details are in the worker's log" in failure
    assert markup not in failure and "onerror" not in failure
    assert markup in result.stderr  # the operator still finds the whole error in the worker's log


def test_one_event_students_share_pdf_pages_and_each_downloads_alone(any_database_app, tmp_path):
    """Issue 24: five one-event students to a page; a brief student's own PDF is rendered when
    asked for and holds that student alone; a longer student's is still cut from the upload's;
    nothing of the chunks' documents is left once the report is finished."""
    from reportgen.models import ReportPart

    from ..support.processes import run_burst_workers

    app = any_database_app
    brief = [student(f"s{n:02d}", [event(str(n % 3), f"2024-07-01T08:{n:02d}:00Z")]) for n in range(7)]
    longer = student("longer", [event(str(n), f"2024-07-02T09:{n:02d}:00Z") for n in range(4)])
    task_id = submit(app.test_client(), "pdf", [*brief, longer])
    run_burst_workers(app.config, tmp_path, 1)
    client = app.test_client()
    whole = client.get(f"/assignment/pdf/{task_id}")
    assert whole.status_code == 200
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(whole.data)).pages]
    first = next(number for number, page in enumerate(pages) if "\ns00\n" in page)
    assert all(f"\ns{n:02d}\n" in pages[first] for n in range(5))
    assert "\ns05\n" in pages[first + 1] and "\ns06\n" in pages[first + 1] and "longer" not in pages[first + 1]
    assert "\nlonger\n" in pages[first + 2] and first + 3 == len(pages)

    own = client.get(f"/assignment/pdf/{task_id}/students/3")
    assert own.status_code == 200 and own.mimetype == "application/pdf"
    [text_of_own] = [page.extract_text() for page in PdfReader(io.BytesIO(own.data)).pages]
    assert "\ns03\n" in f"\n{text_of_own}" and not any(f"s0{n}" in text_of_own for n in (0, 1, 2, 4, 5, 6))
    assert text_of_own.rstrip().endswith("page 1 of 1")
    longer_own = pdf_text(client.get(f"/assignment/pdf/{task_id}/students/7").data)
    assert "longer" in longer_own and "s06" not in longer_own
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/assignment/pdf/{task_id}?bundle=zip").data))
    texts = [pdf_text(archive.read(name)) for name in archive.namelist()]
    assert [sum(f"\n{name}\n" in f"\n{text}" for name in [*(f"s{n:02d}" for n in range(7)), "longer"])
            for text in texts] == [1] * 8
    assert pdf_text(archive.read(archive.namelist()[3])) == text_of_own
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportPart)
                                 .where(ReportPart.report_id == task_id)) == 0
        pages_kept = db.session.execute(select(ReportItem.student_id, ReportItem.page_count)
                                        .where(ReportItem.report_id == task_id)
                                        .order_by(ReportItem.position)).all()
    assert pages_kept == [*((f"s{n:02d}", None) for n in range(7)), ("longer", 1)]



def test_a_finished_brief_student_of_a_chunk_rendered_again_has_nothing_to_update_and_that_is_no_error(
        any_database_app):
    """A chunk rendered again (a retry, a duplicate job) stores where its finished students' pages
    now are (``chunks._store``); a brief PDF student has none, and the UPDATE without a column
    that asked for is a syntax error on both databases, which would fail the job."""
    from reportgen.pipeline import state

    with any_database_app.app_context():
        state.update_item(1)
