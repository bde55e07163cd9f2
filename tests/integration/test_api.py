"""The JSON API's status codes and bodies for every state, on PostgreSQL and Redis."""
import json

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select, update

from reportgen.extensions import db
from reportgen.models import Report, ReportItem

from ..support.api import post_json
from ..support.database import report_count
from ..support.payloads import event, sample_students, student


def set_state(app, task_id: str, **values) -> None:
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == task_id).values(**values))
        db.session.commit()


@pytest.mark.parametrize("report_format", ["html", "pdf"])
def test_submit_answers_202_stores_pending_rows_and_enqueues_jobs_by_id(app, client, config, report_format):
    response = post_json(client, f"/assignment/{report_format}", sample_students())
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "PENDING"
    assert body["status_url"] == f"http://localhost/assignment/{report_format}/{body['task_id']}"
    assert response.headers["Location"] == body["status_url"]
    assert body["progress"] == {"current": 0, "total": 2, "percent": 0}
    with app.app_context():
        report = db.session.get(Report, body["task_id"])
        assert (report.status, report.format, report.student_count, report.event_count) == (
            "PENDING", report_format, 2, 5)
        items = db.session.scalars(select(ReportItem).where(ReportItem.report_id == report.id)
                                   .order_by(ReportItem.position)).all()
        assert [(i.position, i.student_id, i.status, i.event_count) for i in items] == [
            (0, "alice", "PENDING", 3), (1, "Zoë Дмитрий Ωμέγα", "PENDING", 2)]
    queue = Queue(config["REPORTGEN_QUEUE"], connection=Redis.from_url(config["REDIS_URL"]))
    assert queue.job_ids == [f"{body['task_id']}-c0"]
    job = queue.fetch_job(f"{body['task_id']}-c0")
    assert job.args == (body["task_id"], 0)
    assert job.description == "render students"


def test_poll_while_pending_and_started_answers_202_with_progress(app, client):
    task_id = post_json(client, "/assignment/pdf", sample_students()).get_json()["task_id"]
    pending = client.get(f"http://localhost/assignment/pdf/{task_id}")
    assert pending.status_code == 202 and pending.get_json()["status"] == "PENDING"
    assert pending.headers["Retry-After"] == "1"
    set_state(app, task_id, status="STARTED", progress_current=1)
    started = client.get(f"http://localhost/assignment/pdf/{task_id}")
    assert started.status_code == 202
    assert started.get_json()["status"] == "STARTED"
    assert started.get_json()["progress"] == {"current": 1, "total": 2, "percent": 50}


def test_failure_answers_500_json_with_the_error(app, client):
    task_id = post_json(client, "/assignment/html", sample_students()).get_json()["task_id"]
    set_state(app, task_id, status="FAILURE", error="The report could not be rendered: boom")
    response = client.get(f"/assignment/html/{task_id}")
    assert response.status_code == 500
    assert response.get_json()["status"] == "FAILURE"
    assert response.get_json()["error"] == "The report could not be rendered: boom"


def test_success_serves_html_inline_and_pdf_as_attachment(app, client):
    html_id = post_json(client, "/assignment/html", [student("solo", [event(1)])]).get_json()["task_id"]
    pdf_id = post_json(client, "/assignment/pdf", sample_students()).get_json()["task_id"]
    set_state(app, html_id, status="SUCCESS", content=b"<p>hi</p>", content_type="text/html; charset=utf-8",
              size=9, sha256="a" * 64)
    set_state(app, pdf_id, status="SUCCESS", content=b"%PDF-1.4 x", content_type="application/pdf",
              size=10, sha256="b" * 64)
    html = client.get(f"/assignment/html/{html_id}")
    assert html.status_code == 200
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert html.headers["Content-Disposition"].startswith("inline;")
    assert html.data == b"<p>hi</p>"
    pdf = client.get(f"/assignment/pdf/{pdf_id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="report-2-students-{pdf_id[:8]}.pdf"'
    assert pdf.data == b"%PDF-1.4 x"
    assert client.get(f"/assignment/pdf/{pdf_id}", headers={"If-None-Match": '"' + "b" * 64 + '"'}).status_code == 304


def test_accept_json_gives_metadata_instead_of_bytes(app, client):
    task_id = post_json(client, "/assignment/pdf", sample_students()).get_json()["task_id"]
    set_state(app, task_id, status="SUCCESS", content=b"%PDF-1.4", content_type="application/pdf", size=8,
              sha256="c" * 64, sequences={"students": []})
    body = client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert body["status"] == "SUCCESS"
    assert body["student_ids"] == ["alice", "Zoë Дмитрий Ωμέγα"]
    assert (body["size"], body["sha256"], body["download_url"]) == (8, "c" * 64, f"http://localhost/assignment/pdf/{task_id}")
    assert body["sequences"] == {"students": []}
    assert body["created_at"].endswith("Z")


def test_unknown_id_and_wrong_format_are_404_json(client):
    task_id = post_json(client, "/assignment/html", sample_students()).get_json()["task_id"]
    for url in ("/assignment/html/00000000-0000-0000-0000-000000000000", f"/assignment/pdf/{task_id}",
                "/assignment/html/" + "x" * 300):
        response = client.get(url)
        assert response.status_code == 404 and response.is_json
        assert "error" in response.get_json()
    unknown = post_json(client, "/assignment/docx", sample_students())
    assert unknown.status_code == 404 and "use one of: html, pdf, csv" in unknown.get_json()["error"]


def test_wrong_method_is_405_json(client):
    response = client.get("/assignment/pdf")
    assert response.status_code == 405
    assert response.is_json and "error" in response.get_json()
    assert "POST" in response.headers["Allow"]


def test_validation_error_is_400_with_field_paths_and_stores_nothing(app, client):
    bad = sample_students()
    bad[1]["events"][1]["created_time"] = "not a time"
    response = post_json(client, "/assignment/pdf", bad)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid submission: 1 problem"
    assert list(body["details"]) == ["[1].events[1].created_time"]
    assert report_count(app) == 0


def test_malformed_json_is_400_with_position(app, client):
    response = client.post("/assignment/html", data='[{"student_id": "a",', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed JSON"
    assert "line 1, column 20" in response.get_json()["details"]["$"]  # at the comma the JSON ends with
    assert report_count(app) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_content_type_is_415(app, client, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post("/assignment/pdf", data=json.dumps(sample_students()), **kwargs)
    assert response.status_code == 415 and response.is_json
    assert "application/json" in response.get_json()["error"]
    assert report_count(app) == 0


def test_json_with_charset_and_vendor_json_types_are_accepted(client):
    payload = json.dumps(sample_students())
    assert client.post("/assignment/sequence", data=payload,
                       content_type="application/json; charset=utf-8").status_code == 200
    assert client.post("/assignment/sequence", data=payload,
                       content_type="application/vnd.reportgen+json").status_code == 200


def test_body_over_the_limit_is_413_json(config, database_url, redis_url):
    from reportgen import create_app

    app = create_app({**config, "MAX_CONTENT_LENGTH": 1000})
    response = app.test_client().post("/assignment/pdf", data=b"[" + b" " * 2000 + b"]",
                                      content_type="application/json")
    assert response.status_code == 413 and response.is_json
    assert "1000 byte limit" in response.get_json()["error"]
    with app.app_context():
        db.engine.dispose()


def test_sequence_endpoint_answers_synchronously(app, client):
    response = post_json(client, "/assignment/sequence", sample_students())
    assert response.status_code == 200
    body = response.get_json()
    assert body["namespaces"]["course-1"]["units"] == {"Q1": "5", "Q2": "9", "Q3": "10", "Q4": "17"}
    assert body["students"] == [
        {"student_id": "alice", "namespace": "course-1", "sequence": ["Q1", "Q4", "Q4"]},
        {"student_id": "Zoë Дмитрий Ωμέγα", "namespace": "course-1", "sequence": ["Q3", "Q2"]},
    ]
    assert report_count(app) == 0


def test_redis_down_gives_503_and_a_failed_row_not_a_phantom_pending_one(config, database_url):
    from reportgen import create_app

    app = create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = post_json(app.test_client(), "/assignment/pdf", sample_students())
    assert response.status_code == 503 and response.is_json
    task_id = response.get_json()["details"]["task_id"]
    with app.app_context():
        report = db.session.get(Report, task_id)
        assert report.status == "FAILURE" and "queue was unavailable" in report.error
        db.engine.dispose()


def test_unknown_page_outside_the_api_is_html_for_browsers_and_json_for_programs(client):
    assert client.get("/nope", headers={"Accept": "text/html"}).mimetype == "text/html"
    response = client.get("/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.is_json
