"""What the status and history pages say, and the names downloads get, against the real
database, Redis and worker processes: finishing and no-worker words, grouped history, names."""
from __future__ import annotations

import io
import json
import os
import re
import signal
import time
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import update

from reportgen import create_app
from reportgen.domain.filenames import ascii_name
from reportgen.extensions import db
from reportgen.models import Report
from reportgen.web import present

from ..support.api import post_json, submit
from ..support.payloads import event, student
from ..support.processes import start_worker, wait_until

CHINESE = "王小明"
ARABIC = "محمد"


# --- download names --------------------------------------------------------------------------

@pytest.mark.parametrize("name, fallback", [
    (f"report-{CHINESE}-3f0c1a2b.pdf", "report-student-3f0c1a2b.pdf"),
    (f"0001-{CHINESE}-3f0c1a2b.pdf", "0001-student-3f0c1a2b.pdf"),
    ("0002-Zoë Дмитрий Ωμέγα-3f0c1a2b.pdf", "0002-Zoe-3f0c1a2b.pdf"),
    (f"0001-{'x' * 200}-3f0c1a2b.pdf", f"0001-{'x' * 46}-3f0c1a2b.pdf"),
    (f"report-{'Класс 7Б ' * 20}-3f0c1a2b-pdf.zip", "report-7-7-7-7-7-7-7-7-7-7-7-7-7-7-7-7-7-7-7-7-3f0c1a2b-pdf.zip"),
    (f"report-{'Week 3 ' * 20}-3f0c1a2b-pdf.zip", "report-Week-3-Week-3-Week-3-Week-3-Week-3-Week-3f0c1a2b-pdf.zip"),
])
def test_the_ascii_fallback_keeps_the_task_id(name, fallback):
    assert ascii_name(name) == fallback
    assert len(fallback) <= 60 + len("-3f0c1a2b-pdf.zip")


def test_downloads_of_non_latin_students_keep_the_task_id_in_both_names(client, run_worker):
    payload = [student(CHINESE, [event(1, "2024-07-01T09:00:00Z")]), student(ARABIC, [event(2, "2024-07-01T09:05:00Z")])]
    one = submit(client, "pdf", payload[:1])
    two = submit(client, "pdf", payload)
    run_worker()

    report = client.get(f"/assignment/pdf/{one}")
    assert report.status_code == 200
    assert report.headers["Content-Disposition"] == f'attachment; filename="report-student-{one[:8]}.pdf"'
    firsts = [client.get(f"/assignment/pdf/{task_id}/students/0") for task_id in (one, two)]
    assert [r.status_code for r in firsts] == [200, 200] and firsts[0].data.startswith(b"%PDF")
    fallbacks = [re.search(r'filename="([^"]+)"', r.headers["Content-Disposition"]).group(1) for r in firsts]
    assert fallbacks == [f"0001-student-{one[:8]}.pdf", f"0001-student-{two[:8]}.pdf"]  # no longer both "0001.pdf"
    assert f"filename*=UTF-8''0001-%E7%8E%8B%E5%B0%8F%E6%98%8E-{one[:8]}.pdf" in firsts[0].headers["Content-Disposition"]
    arabic = client.get(f"/assignment/pdf/{two}/students/1")
    assert f'filename="0002-student-{two[:8]}.pdf"' in arabic.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/assignment/pdf/{two}?bundle=zip").data))
    assert archive.namelist() == [f"0001-{CHINESE}-{two[:8]}.pdf", f"0002-{ARABIC}-{two[:8]}.pdf"]


# --- status words --------------------------------------------------------------------------------

def pending_row(app, *, seconds_ago: float, **values) -> str:
    """A report stored as queued ``seconds_ago`` with no job in Redis: no worker can take it."""
    with app.app_context():
        report = Report(format=values.pop("format", "pdf"), status=values.pop("status", "PENDING"),
                        student_count=2, event_count=2, student_ids=["alice", "bob"], namespaces=["course-1"],
                        progress_current=values.pop("progress_current", 0), progress_total=2, attempts=0,
                        created_at=datetime.now(timezone.utc) - timedelta(seconds=seconds_ago), **values)
        db.session.add(report)
        db.session.commit()
        return report.id


def test_while_the_last_step_assembles_the_page_says_finishing_not_rendering(app, client):
    task_id = pending_row(app, seconds_ago=30, status="STARTED", progress_current=1)
    assert client.get(f"/reports/{task_id}/status.json").get_json()["summary"] == "Rendering… 1 of 2 students done."
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == task_id).values(progress_current=2))
        db.session.commit()
    body = client.get(f"/reports/{task_id}/status.json").get_json()
    assert body["summary"] == "Finishing: putting the report together…" and body["done"] is False
    assert "Finishing: putting the report together." in body["html"] and ">Finishing</span>" in body["html"]
    assert "Rendering" not in body["html"]


def test_two_reports_are_both_never_all_2(app, client):
    ids = [pending_row(app, seconds_ago=5, format=fmt, status="SUCCESS", progress_current=2, submission_id="s-1",
                       size=10, sha256="a" * 64) for fmt in ("html", "pdf")]
    page = client.get(f"/reports/{ids[0]}").get_data(as_text=True)
    assert "Done: both reports are ready." in page and "all 2" not in page
    with app.app_context():
        db.session.execute(update(Report).values(status="FAILURE", error="boom"))
        db.session.commit()
    assert client.get(f"/reports/{ids[0]}/status.json").get_json()["summary"] == "Both reports failed."
    assert present.all_of(3) == "all 3"


def hint_shown(client, task_id: str) -> bool:
    """Whether the page shows the no-worker hint, checked against the status JSON read just before
    and just after it (a heartbeat may come or go between two requests, never during both)."""
    while True:
        before = client.get(f"/reports/{task_id}/status.json").get_json()["no_worker"]
        shown = '<p id="no-worker" class="notice" role="note">' in client.get(f"/reports/{task_id}").get_data(as_text=True)
        after = client.get(f"/reports/{task_id}/status.json").get_json()["no_worker"]
        if before == after:
            assert shown == before
            return shown


def test_a_queued_report_says_when_no_worker_is_running(app, client):
    fresh = pending_row(app, seconds_ago=2)
    waited = pending_row(app, seconds_ago=11)
    assert not hint_shown(client, fresh)  # a report just submitted waits a moment for a worker anyway
    assert hint_shown(client, waited)
    page = client.get(f"/reports/{waited}").get_data(as_text=True)
    assert "No worker is running, so this report is waiting. Whoever runs reportgen should start one" in page
    assert "(<code>make run</code> starts one;" in page


def test_the_hint_goes_while_a_worker_heartbeats_and_comes_back_when_it_is_killed(app, config, tmp_path):
    app = create_app({**config, "REPORTGEN_STALE_AFTER": 4})
    client = app.test_client()
    waited = pending_row(app, seconds_ago=60)
    # The worker heartbeats every second (its sweep interval) and its sweep leaves the queued row
    # alone (younger than its REPORTGEN_STALE_AFTER); the page calls a heartbeat older than 4 s dead.
    worker = start_worker(config, tmp_path, "worker", REPORTGEN_STALE_AFTER="3600", REPORTGEN_SWEEP_INTERVAL="1")
    try:
        wait_until(lambda: not hint_shown(client, waited), 60, "the page to see the worker")
        for _ in range(3):  # it stays seen while it heartbeats, past the page's 5 s look
            time.sleep(2.5)
            assert not hint_shown(client, waited)
        os.killpg(worker.pid, signal.SIGKILL)  # as the OOM killer would: it stays registered in Redis
        worker.wait(timeout=10)
        assert Worker.count(queue=Queue(config["REPORTGEN_QUEUE"], connection=Redis.from_url(config["REDIS_URL"])))
        wait_until(lambda: hint_shown(client, waited), 30, "the page to see that the worker's heartbeats stopped")
        with app.app_context():
            assert db.session.get(Report, waited).status == "PENDING"  # what was seen was the worker, not the row
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    with app.app_context():
        db.engine.dispose()


def test_student_chips_link_to_their_own_document_and_the_zip_is_offered(client, run_worker):
    long_id = "s-" + "9" * 200
    task_id = submit(client, "html", [student("alice", [event(1)]), student(long_id, [event(2)])])
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert "/students/0" not in page and "?bundle=zip" not in page  # nothing to link to yet
    run_worker()
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert f'<a href="/assignment/html/{task_id}/students/0" title="alice">alice</a>' in page
    assert f'<a href="/assignment/html/{task_id}/students/1" title="{long_id}">{long_id}</a>' in page
    assert f'href="/assignment/html/{task_id}?bundle=zip" download>Download all (ZIP)' in page
    assert "Each id opens that student's own page." in page
    body = client.get(f"/reports/{task_id}/status.json").get_json()
    assert f"/assignment/html/{task_id}/students/1" in body["students_html"]
    assert alice_in(client.get(f"/assignment/html/{task_id}/students/0"))


def alice_in(response) -> bool:
    return response.status_code == 200 and "alice" in response.get_data(as_text=True)


# --- history ---------------------------------------------------------------------------------------

def upload(app, formats, *, label=None, student_ids=("alice",), minutes_ago=0, submission=True, **values) -> list[str]:
    """One upload's reports as rows: one per format, sharing a submission id (or an API report alone)."""
    submission_id = f"sub-{label}-{minutes_ago}" if submission else None
    with app.app_context():
        reports = [Report(format=fmt, status=values.get("status", "SUCCESS"), student_count=len(student_ids),
                          event_count=1, student_ids=list(student_ids), namespaces=["course-1"], progress_current=0,
                          progress_total=len(student_ids), attempts=0, label=label, submission_id=submission_id,
                          created_at=datetime.now(timezone.utc) - timedelta(minutes=minutes_ago), size=1,
                          sha256="a" * 64)
                   for fmt in formats]
        db.session.add_all(reports)
        db.session.commit()
        return [r.id for r in reports]


def rows(page: str) -> list[str]:
    return re.findall(r'<li class="upload">(.*?)</ul>\s*</li>', page, re.S)


def test_history_is_one_row_per_upload_with_its_formats_as_links(any_database_app):
    app = any_database_app
    week3 = upload(app, ("html", "pdf", "csv"), label="Week 3", minutes_ago=3)
    api = upload(app, ("pdf",), student_ids=("bob",), minutes_ago=2, submission=False)
    week4 = upload(app, ("html", "pdf"), label="Week 4", minutes_ago=1)
    page = app.test_client().get("/reports").get_data(as_text=True)
    assert "3 uploads, newest first." in page
    listed = rows(page)
    assert len(listed) == 3
    assert "Week 4" in listed[0] and "bob" in listed[1] and "Week 3" in listed[2]
    assert f'href="/assignment/html/{week3[0]}"><span class="verb">View </span>HTML</a>' in listed[2]
    assert f'href="/assignment/pdf/{week3[1]}" download><span class="verb">Download </span>PDF</a>' in listed[2]
    assert f'href="/assignment/csv/{week3[2]}" download><span class="verb">Download </span>CSV</a>' in listed[2]
    assert f'href="/assignment/pdf/{api[0]}" download><span class="verb">Download </span>PDF</a>' in listed[1]
    assert f'<a class="upload-title" href="/reports/{week4[0]}">Week 4<' in listed[0]


def test_history_pages_count_uploads_not_reports(any_database_app):
    app = any_database_app
    for minute in range(21):
        upload(app, ("html", "pdf", "csv"), label=f"upload {minute}", minutes_ago=100 - minute)
    client = app.test_client()
    first = client.get("/reports").get_data(as_text=True)
    assert "21 uploads, newest first · page 1 of 2." in first and len(rows(first)) == 20
    assert "upload 20" in rows(first)[0] and "upload 1<" in rows(first)[-1]
    second = client.get("/reports?page=2").get_data(as_text=True)
    assert len(rows(second)) == 1 and "upload 0<" in rows(second)[0]
    assert rows(second)[0].count("badge") == 0 and rows(second)[0].count(">Download <") == 2


def test_history_search_finds_labels_and_student_ids_literally(any_database_app):
    app = any_database_app
    upload(app, ("html", "pdf"), label="Week 3: fractions", student_ids=("alice", "bob"), minutes_ago=4)
    upload(app, ("html",), label="Week 4 100%_done", student_ids=("carol",), minutes_ago=3)
    upload(app, ("pdf",), label="Класс 7Б", student_ids=(CHINESE,), minutes_ago=2)
    upload(app, ("csv",), student_ids=("fractions-fan",), minutes_ago=1, submission=False)
    client = app.test_client()

    def found(q: str) -> list[str]:
        page = client.get("/reports", query_string={"q": q}).get_data(as_text=True)
        return [re.search(r'class="upload-title"[^>]*>([^<]+)<', row).group(1) for row in rows(page)]

    assert found("FRACTIONS") == ["1 student", "Week 3: fractions"]  # a label and a student id
    assert found("week") == ["Week 4 100%_done", "Week 3: fractions"]
    assert found("%_") == ["Week 4 100%_done"] and found("_") == ["Week 4 100%_done"]
    assert found("7б") in (["Класс 7Б"], [])  # SQLite folds ASCII case only
    assert found("7Б") == ["Класс 7Б"]
    assert found(CHINESE) == ["Класс 7Б"]
    assert found("bob") == ["Week 3: fractions"]
    assert found("nobody") == []


def test_history_dates_are_short_with_the_full_time_in_the_title():
    now = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)
    assert present.short_when(datetime(2026, 11, 23, 14, 5, tzinfo=timezone.utc), now) == "23 Nov 14:05"
    assert present.short_when(datetime(2025, 1, 2, 3, 4), now) == "2 Jan 2025 03:04"
    assert present.short_when(None, now) == ""


def test_history_rows_show_short_dates(app, client):
    upload(app, ("html",), label="Today")
    page = client.get("/reports").get_data(as_text=True)
    stamp = re.search(r'<time class="upload-when" datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', page)
    assert stamp and stamp.group(1).endswith("Z") and stamp.group(2).endswith(" UTC")
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d\d:\d\d", stamp.group(3))


def test_the_history_search_box_is_labelled(client):
    page = client.get("/reports").get_data(as_text=True)
    assert '<label for="q">Label or student id</label>' in page


def test_an_api_report_posted_twice_is_two_rows(app, client):
    for _ in range(2):
        assert post_json(client, "/assignment/csv", [student("alice", [event(1)])]).status_code == 202
    assert len(rows(client.get("/reports").get_data(as_text=True))) == 2


# --- one "generated" time per document -----------------------------------------------------------

def test_every_part_of_a_document_rendered_now_says_the_same_generated_time():
    from reportgen.domain.preparation import prepare
    from reportgen.domain.upload import parse_upload
    from reportgen.render.documents import ReportContext, StudentInput, report_data

    upload = parse_upload([student(f"s{n}", [event(1, "2024-07-01T09:00:00Z")]) for n in range(2)])
    prepared = prepare(upload.students, upload.options)
    context = ReportContext.of(prepared)
    inputs = [StudentInput(n, s, m) for n, (s, m) in enumerate(zip(prepared.students, prepared.metrics), start=1)]
    first = report_data(context, inputs[:1])
    time.sleep(1.1)  # the next chunk, a second later: the clock must not be read again
    second = report_data(context, inputs[1:])
    class_page = report_data(context, inputs, summary_only=True)
    assert first.generated_at == second.generated_at == class_page.generated_at


def test_a_multi_chunk_pdf_prints_one_generated_time():
    from reportgen.domain.batching import MAX_SUMMARY_STUDENTS_PER_CHUNK
    from reportgen.render.documents import render_document

    from ..support.pdf import pdf_pages

    payload = [student(f"s{n:03d}", [event(n % 3, f"2024-07-01T09:{n % 60:02d}:00Z")])
               for n in range(MAX_SUMMARY_STUDENTS_PER_CHUNK + 1)]
    text = "\n".join(pdf_pages(render_document("pdf", json.dumps(payload))))
    stamps = set(re.findall(r"generated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text, re.I))
    assert len(stamps) == 1, stamps
