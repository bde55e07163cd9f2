"""``Idempotency-Key`` on submits: a retried submit answers with the report it made the first
time, and concurrent duplicates make one report, decided by the database (real PostgreSQL, a
real gunicorn)."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from reportgen.extensions import db
from reportgen.models import Report, utcnow

from ..support.api import bearer, post_submission
from ..support.database import report_count
from ..support.pages import TOKENS
from ..support.payloads import sample_students
from ..support.webserver import Browser, gunicorn

BODY = json.dumps(sample_students())


def test_the_same_key_and_body_answer_with_the_first_report(app, client):
    first = post_submission(client, idempotency_key="order-17")
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = post_submission(client, idempotency_key="order-17")
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["task_id"] == first.get_json()["task_id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert again.get_json()["status"] == "PENDING"
    assert report_count(app) == 1
    quoted = post_submission(client, idempotency_key='"order-17"')  # the draft's Structured Fields string
    assert quoted.get_json()["task_id"] == first.get_json()["task_id"]
    assert post_submission(client, idempotency_key=None).get_json()["task_id"] != first.get_json()["task_id"]
    assert post_submission(client, idempotency_key="order-18").get_json()["task_id"] != first.get_json()["task_id"]
    assert report_count(app) == 3


def test_the_same_key_with_another_body_or_format_is_422(app, client):
    assert post_submission(client, idempotency_key="k1").status_code == 202
    other_body = json.dumps(sample_students()[:1])
    for response in (post_submission(client, idempotency_key="k1", body=other_body), post_submission(client, idempotency_key="k1", report_format="csv")):
        assert response.status_code == 422
        body = response.get_json()
        assert "Idempotency-Key" in body["error"] and "Idempotency-Key" in body["details"]
        assert "task_id" not in body
    assert report_count(app) == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "clé", "tab\there"])
def test_a_malformed_key_is_400_and_stores_nothing(app, client, key):
    response = post_submission(client, idempotency_key=key)
    assert response.status_code == 400, key
    assert "Idempotency-Key" in response.get_json()["error"]
    assert report_count(app) == 0


@pytest.mark.parametrize("values", [["a", "b"], ["a", "a"], ["a, b"], ['"a", "b"'], ['"a",b']])
def test_more_than_one_key_is_400_and_stores_nothing(app, client, values):
    """Repeated headers reach the app joined by a comma; their merge is not a key of its own."""
    response = client.post("/assignment/html", data=BODY, content_type="application/json",
                           headers=[("Idempotency-Key", value) for value in values])
    assert response.status_code == 400, values
    assert response.get_json()["details"]["Idempotency-Key"].startswith("send it once")
    assert report_count(app) == 0


def test_a_quoted_key_may_hold_a_comma_but_not_trailing_text(app, client):
    assert post_submission(client, idempotency_key='"a,b"').status_code == 202
    assert post_submission(client, idempotency_key='"a,b"').headers["Idempotent-Replayed"] == "true"
    for malformed in ('"a', '"a" b', '"a\\"'):
        assert post_submission(client, idempotency_key=malformed).status_code == 400, malformed
    assert report_count(app) == 1


def test_two_keys_through_a_real_gunicorn_are_400(app, config, tmp_path):
    import http.client

    with gunicorn(config, tmp_path) as (host, port):
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.putrequest("POST", "/assignment/html")
        for header, value in (("Content-Type", "application/json"), ("Content-Length", str(len(BODY))),
                              ("Idempotency-Key", "first"), ("Idempotency-Key", "second")):
            connection.putheader(header, value)
        connection.endheaders(BODY.encode())
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
    assert response.status == 400, answer
    assert answer["details"]["Idempotency-Key"].startswith("send it once")
    assert report_count(app) == 0


def test_a_key_of_255_printable_characters_is_fine(app, client):
    key = ("~ !" * 85)
    assert len(key) == 255 and post_submission(client, idempotency_key=key).status_code == 202


def test_keys_belong_to_a_client(make_app):
    app = make_app(REPORTGEN_API_TOKENS=TOKENS)
    client = app.test_client()
    first = post_submission(client, idempotency_key="shared-key", headers=bearer(TOKENS[0]))
    second = post_submission(client, idempotency_key="shared-key", headers=bearer(TOKENS[1]))
    assert first.status_code == second.status_code == 202
    assert first.get_json()["task_id"] != second.get_json()["task_id"]
    assert post_submission(client, idempotency_key="shared-key", headers=bearer(TOKENS[1])).get_json()["task_id"] == second.get_json()["task_id"]
    assert report_count(app) == 2

    open_app = make_app()
    here = post_submission(open_app.test_client(), idempotency_key="k", environ_base={"REMOTE_ADDR": "127.0.0.2"})
    there = post_submission(open_app.test_client(), idempotency_key="k", environ_base={"REMOTE_ADDR": "127.0.0.3"})
    assert here.get_json()["task_id"] != there.get_json()["task_id"]
    assert report_count(app) == 4


def test_a_key_older_than_24_hours_makes_a_new_report(app, client):
    first = post_submission(client, idempotency_key="daily").get_json()["task_id"]
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == first).values(created_at=utcnow() - timedelta(hours=23)))
        db.session.commit()
    assert post_submission(client, idempotency_key="daily").get_json()["task_id"] == first
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == first).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    fresh = post_submission(client, idempotency_key="daily", body=json.dumps(sample_students()[:1]))
    assert fresh.status_code == 202 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.get_json()["task_id"] != first
    assert post_submission(client, idempotency_key="daily", body=json.dumps(sample_students()[:1])).get_json()["task_id"] == fresh.get_json()["task_id"]
    assert report_count(app) == 2
    assert client.get(f"/assignment/html/{first}").status_code == 202  # the old report itself stays


def test_concurrent_duplicates_make_one_report(app, config, tmp_path):
    """Eight threads send the same submit at once to a real gunicorn (2 processes x 4 threads)."""
    with gunicorn(config, tmp_path, REPORTGEN_SUBMIT_RATE_LIMIT="") as (host, port):
        browser = Browser(f"http://{host}:{port}")
        start = threading.Barrier(8)
        answers = []

        def send():
            start.wait()
            status, headers, text = browser.request("/assignment/pdf", data=BODY.encode(), headers={
                "Content-Type": "application/json", "Idempotency-Key": "one-upload"})
            answers.append((status, headers.get("Idempotent-Replayed"), json.loads(text)["task_id"]))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(answers) == 8 and {status for status, _, _ in answers} == {202}, answers
    assert len({task_id for _, _, task_id in answers}) == 1, answers
    assert sum(replayed is None for _, replayed, _ in answers) == 1, answers
    with app.app_context():
        assert db.session.scalars(select(Report.id)).all() == [answers[0][2]]


def test_the_same_json_with_other_whitespace_and_key_order_replays_the_first_answer(app, client):
    students = sample_students()
    compact = json.dumps({"students": students, "options": {"idle_cutoff_minutes": 20}}, separators=(",", ":"))
    spaced = json.dumps({"options": {"idle_cutoff_minutes": 20},
                         "students": [dict(reversed(list(student.items()))) for student in students]}, indent=4)
    first = post_submission(client, "pdf", body=compact, idempotency_key="k-ws")
    again = post_submission(client, "pdf", body="\n" + spaced + "\n", idempotency_key="k-ws")
    assert again.status_code == 202, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["task_id"] == first.get_json()["task_id"]
    changed = post_submission(client, "pdf", body=compact.replace("20", "25"), idempotency_key="k-ws")
    assert changed.status_code == 422
    assert report_count(app) == 1
