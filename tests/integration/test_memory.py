"""Every shape of upload the server takes stays within its budgets — a web process 400 MiB, a work
horse 600 MiB — and every shape past a bound is refused with a 4xx before it costs more: measured
on a real gunicorn (as ``make run`` serves) and real workers as they run (their RSS, which counts
the pages a horse shares with its warm parent), on PostgreSQL and SQLite.

The shapes are those that broke the bounds before: the heaviest single student at the object cap
(every format), the heaviest student within the bounds on units (1,000 distinct units, as many
events as 20 MiB holds), a CSV at the cap whatever ends its rows (a CSV of ``\\r``-separated rows
passed the count of ``\\n`` and took the web process to 640 MiB), and those now refused: a million
``\\r``-separated rows, 200,000 events on distinct units, 20,000 distinct units, a 2 MB id."""
from __future__ import annotations

import contextlib
import http.client
import json
import time
from urllib.parse import urlsplit
from datetime import datetime, timedelta, timezone

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from reportgen.extensions import db
from reportgen.models import Report

from ..support.processes import PeakRss, listening_workers
from ..support.webserver import gunicorn

WEB_BUDGET = 400 * 2**20
WORKER_BUDGET = 600 * 2**20
CAP = 250_000
BODY_LIMIT = 20 * 2**20
START = datetime(2024, 7, 1, 8, tzinfo=timezone.utc)


def minute(n: int) -> str:
    return (START + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")


def largest_accepted_upload(cap: int, body_limit: int) -> list[dict]:
    """One student with as many events as the object cap lets through in an envelope with
    options (the envelope, its options and the student are objects too), one a minute on 30
    units: the heaviest single student there can be."""
    events = [{"unit": str(n % 30), "type": "saved_code", "created_time": minute(n)} for n in range(cap - 3)]
    upload = [{"student_id": "the-largest", "namespace": "course-1", "events": events}]
    assert len(json.dumps(upload)) <= body_limit
    return upload


def most_units_upload(body_limit: int) -> list[dict]:
    """One student on the most distinct units a student may have (1,000, of 40 characters), with
    as many events as the body limit holds: every unit a row of the per-unit table and timeline."""
    event_size = len(json.dumps({"unit": "u" * 40, "type": "saved_code", "created_time": minute(0)})) + 2
    count = (body_limit - 1000) // event_size
    events = [{"unit": f"unit-{n % 1000:035d}", "type": "saved_code", "created_time": minute(n)} for n in range(count)]
    return [{"student_id": "most-units", "namespace": "course-1", "events": events}]


def csv_at_the_cap(ending: str) -> bytes:
    """The header and ``CAP - 1`` rows of one student, each row ended by ``ending``."""
    rows = (f"s1,course-1,{minute(n)},saved_code,{n % 30}" for n in range(CAP - 1))
    return ending.join(["student_id,namespace,created_time,type,unit", *rows, ""]).encode()


def request(host: str, port: int, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json") -> tuple[int, dict]:
    connection = http.client.HTTPConnection(host, port, timeout=300)
    connection.request(method, path, body=body, headers={"Content-Type": content_type, "Accept": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read() or b"null")
    connection.close()
    return response.status, answer


def through_the_stack(app, tmp_path, report_format: str, body: bytes, content_type: str = "application/json",
                      workers: int = 2):
    """Submit ``body`` to a real gunicorn with ``workers`` report workers and a delivery worker
    (none with 0): ``(status of the submit, final status JSON or the refusal, peaks)``."""
    running = listening_workers(app.config, tmp_path, workers) if workers else contextlib.nullcontext()
    with gunicorn(app.config, tmp_path, REPORTGEN_RATE_LIMIT="", REPORTGEN_SUBMIT_RATE_LIMIT="") as (host, port), \
            running, PeakRss() as peaks:
        code, answer = request(host, port, "POST", f"/assignment/{report_format}", body, content_type)
        if code == 202:
            deadline = time.monotonic() + 300
            while (answer := request(host, port, "GET", urlsplit(answer["status_url"]).path)[1])["status"] not in (
                    "SUCCESS", "FAILURE"):
                assert time.monotonic() < deadline, "the report did not finish in 5 minutes"
                time.sleep(0.3)
    print(f"{report_format} ({len(body) / 2**20:.1f} MiB): {code}; peak RSS web {peaks.web >> 20} MiB, "
          f"worker {peaks.worker >> 20} MiB")
    return code, answer, peaks


def assert_within_budgets(peaks: PeakRss) -> None:
    assert peaks.web <= WEB_BUDGET, f"a web process reached {peaks.web >> 20} MiB"
    assert peaks.worker <= WORKER_BUDGET, f"a worker reached {peaks.worker >> 20} MiB"


@pytest.mark.capacity
@pytest.mark.parametrize("report_format, options", [("pdf", {"event_log": True}), ("html", {}), ("csv", {})])
def test_the_largest_accepted_upload_renders_within_the_budgets(any_database_app, tmp_path, report_format, options):
    body = json.dumps({"students": largest_accepted_upload(CAP, BODY_LIMIT), "options": options}).encode()
    code, answer, peaks = through_the_stack(any_database_app, tmp_path, report_format, body)
    assert code == 202 and answer["status"] == "SUCCESS", answer.get("error")
    assert peaks.worker > 100 * 2**20, "no work horse was seen working"
    assert_within_budgets(peaks)


@pytest.mark.capacity
@pytest.mark.parametrize("report_format, options", [("pdf", {"event_log": True}), ("html", {}), ("csv", {})])
def test_the_student_with_the_most_units_renders_within_the_budgets(any_database_app, tmp_path, report_format,
                                                                    options):
    body = json.dumps({"students": most_units_upload(BODY_LIMIT), "options": options}).encode()
    assert len(body) <= BODY_LIMIT
    code, answer, peaks = through_the_stack(any_database_app, tmp_path, report_format, body)
    assert code == 202 and answer["status"] == "SUCCESS", answer.get("error")
    assert answer["students"][0]["metrics"]["unit_count"] == 1000
    assert_within_budgets(peaks)


@pytest.mark.capacity
@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_a_csv_at_the_cap_is_taken_and_rendered_within_the_budgets_whatever_ends_its_rows(any_database_app, tmp_path,
                                                                                          ending):
    code, answer, peaks = through_the_stack(any_database_app, tmp_path, "csv", csv_at_the_cap(ending), "text/csv")
    assert code == 202 and answer["status"] == "SUCCESS", answer.get("error")
    assert answer["students"][0]["metrics"]["events"] == CAP - 1
    assert_within_budgets(peaks)


@pytest.mark.parametrize("shape, body, content_type, status, said", [
    ("a million rows ended by \\r", b"student_id,unit\r" + b"s,1\r" * 1_000_000, "text/csv", 413,
     "at most 250,000 rows"),
    ("200,000 events on distinct 40-character units",
     json.dumps([{"student_id": "s", "events": [{"unit": f"{n:040d}"} for n in range(200_000)]}]).encode(),
     "application/json", 400, "a student may have at most 1,000"),
    ("20,000 distinct units",
     json.dumps([{"student_id": "s", "events": [{"unit": n} for n in range(20_000)]}]).encode(), "application/json",
     400, "a student may have at most 1,000"),
    ("a 2 MB student id", json.dumps([{"student_id": "x" * 2_000_000, "events": [{"unit": 1}]}]).encode(),
     "application/json", 400, "a student id may have at most 256"),
])
def test_shapes_past_a_bound_are_refused_before_they_cost_more(any_database_app, tmp_path, shape, body,
                                                              content_type, status, said):
    code, answer, peaks = through_the_stack(any_database_app, tmp_path, "pdf", body, content_type, workers=0)
    assert code == status and said in json.dumps(answer), (shape, answer)
    assert_within_budgets(peaks)
    with any_database_app.app_context():  # refused before anything was stored or queued: no worker has work
        assert db.session.scalar(select(func.count()).select_from(Report)) == 0
    connection, name = Redis.from_url(any_database_app.config["REDIS_URL"]), any_database_app.config["REPORTGEN_QUEUE"]
    assert [Queue(queue, connection=connection).count for queue in (name, f"{name}-finish")] == [0, 0]
