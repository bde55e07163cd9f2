"""Subscriptions: stored, validated and owned like reports; due at the class's local time across
daylight-saving changes; each period made once, however many ticks or requests ask; caught up
once after downtime; paused; on PostgreSQL and SQLite."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from reportgen import create_app
from reportgen.extensions import db
from reportgen.models import Subscription, SubscriptionRun
from reportgen.subscriptions import store

from ..support.api import bearer, post_json
from ..support.payloads import event, student

UTC = timezone.utc
TOKENS = ["first-token-" + "a" * 30, "second-token-" + "b" * 30]


def november_class() -> list[dict]:
    return [student("s-001", [event(1, "2024-11-04T10:00:00Z"), event(2, "2024-11-05T10:00:00Z")], "python-101"),
            student("s-002", [event(1, "2024-11-06T10:00:00Z")], "python-101")]


def make_class(client, zone="Europe/Berlin", **headers):
    assert post_json(client, "/namespaces/python-101/events", november_class(), **headers).status_code == 200
    assert client.put("/namespaces/python-101", json={"timezone": zone}, **headers).status_code == 200


def subscribe(client, **fields):
    body = {"namespace": "python-101", "every": "month", "day": 1, "time": "07:00",
            "recipients": ["teacher@school.example"], **fields}
    return client.post("/subscriptions", json=body)


def as_if_created(app, subscription_id: int, moment: datetime) -> None:
    """The subscription's next run as it was when created at ``moment`` (tests drive time)."""
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        store.schedule(subscription, moment)
        db.session.commit()


def tick(app, now: str) -> str:
    result = app.test_cli_runner().invoke(args=["reportgen", "tick", "--now", now])
    assert result.exit_code == 0, result.output
    return result.output


def runs(client, subscription_id: int) -> list[dict]:
    return client.get(f"/subscriptions/{subscription_id}/runs").get_json()["runs"]


def test_a_subscription_is_stored_shown_changed_paused_and_deleted(any_database_app):
    client = any_database_app.test_client()
    make_class(client)
    created = subscribe(client, formats=["pdf", "csv"], students=True)
    assert created.status_code == 201, created.get_json()
    shown = created.get_json()
    assert (shown["every"], shown["day"], shown["time"], shown["timezone"]) == ("month", 1, "07:00", "Europe/Berlin")
    assert shown["next_run"].endswith("T07:00:00+01:00") and shown["last_run"] is None
    listed = client.get("/subscriptions").get_json()["subscriptions"]
    assert [s["id"] for s in listed] == [shown["id"]]
    paused = client.patch(f"/subscriptions/{shown['id']}", json={"paused": True}).get_json()
    assert paused["paused"] is True and paused["next_run"] is None
    weekly = client.patch(f"/subscriptions/{shown['id']}", json={"every": "week", "day": 5, "paused": False}).get_json()
    assert weekly["every"] == "week" and weekly["next_period"].startswith(weekly["next_period"][:4] + "-W")
    assert client.delete(f"/subscriptions/{shown['id']}").status_code == 200
    assert client.get(f"/subscriptions/{shown['id']}").status_code == 404


@pytest.mark.parametrize("change, path", [
    ({"day": 0}, "day"), ({"day": 32}, "day"), ({"time": "25:00"}, "time"),
    ({"recipients": [f"r{number}@school.example" for number in range(10_000)]}, "recipients"),
    ({"recipients": ["teacher@school.example\r\nBcc: all@school.example"]}, "recipients[0]"),
    ({"options": {"timezone": "Mars/Olympus_Mons"}}, "options.timezone"),
    ({"every": "fortnight"}, "every"), ({"formats": ["pdf", "docx"]}, "formats"),
])
def test_a_hostile_subscription_gets_a_clear_400_and_nothing_is_stored(any_database_app, change, path):
    client = any_database_app.test_client()
    make_class(client)
    response = subscribe(client, **change)
    assert response.status_code == 400, response.get_json()
    assert path in response.get_json()["details"], response.get_json()
    with any_database_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 0


def test_a_subscription_of_an_unknown_class_is_404_and_another_token_cannot_see_one(make_app):
    app = make_app(REPORTGEN_API_TOKENS=TOKENS, REPORTGEN_ADMIN_PASSWORD="operator-password")
    client = app.test_client()
    first, second = bearer(TOKENS[0]), bearer(TOKENS[1])
    assert post_json(client, "/namespaces/python-101/events", november_class(), headers=first).status_code == 200
    body = {"namespace": "python-101", "every": "month", "recipients": ["t@school.example"]}
    created = client.post("/subscriptions", json=body, headers=first)
    assert created.status_code == 201
    assert client.post("/subscriptions", json=body, headers=second).status_code == 404  # not its class
    assert client.get(f"/subscriptions/{created.get_json()['id']}", headers=second).status_code == 404
    assert client.get("/subscriptions", headers=second).get_json() == {"subscriptions": []}
    assert client.post(f"/subscriptions/{created.get_json()['id']}/run", headers=second).status_code == 404


def test_monthly_runs_come_at_0700_berlin_time_before_and_after_the_clocks_go_back(any_database_app):
    app, client = any_database_app, any_database_app.test_client()
    make_class(client)
    subscription = subscribe(client).get_json()["id"]
    as_if_created(app, subscription, datetime(2024, 9, 15, tzinfo=UTC))
    assert "0 run(s) queued" in tick(app, "2024-10-01T06:59:59+02:00")
    assert "1 run(s) queued" in tick(app, "2024-10-01T07:00:00+02:00")
    assert "0 run(s) queued" in tick(app, "2024-11-01T06:59:00+01:00")  # after 27 October: CET
    assert "1 run(s) queued" in tick(app, "2024-11-01T07:00:00+01:00")
    shown = runs(client, subscription)
    assert [(run["period"], run["due_at"], run["status"]) for run in shown] == [
        ("2024-10", "2024-11-01T07:00:00+01:00", "queued"), ("2024-09", "2024-10-01T07:00:00+02:00", "queued")]


def test_weekly_runs_come_on_monday_at_0700_for_the_week_before_across_the_clocks_going_forward(any_database_app):
    app, client = any_database_app, any_database_app.test_client()
    make_class(client)
    subscription = subscribe(client, every="week", day=1).get_json()["id"]
    as_if_created(app, subscription, datetime(2024, 3, 20, tzinfo=UTC))
    assert "0 run(s) queued" in tick(app, "2024-03-25T06:59:00+01:00")
    assert "1 run(s) queued" in tick(app, "2024-03-25T07:00:00+01:00")
    assert "0 run(s) queued" in tick(app, "2024-04-01T06:59:00+02:00")  # 31 March: CEST
    assert "1 run(s) queued" in tick(app, "2024-04-01T07:00:00+02:00")
    assert [(run["period"], run["due_at"]) for run in runs(client, subscription)] == [
        ("2024-W13", "2024-04-01T07:00:00+02:00"), ("2024-W12", "2024-03-25T07:00:00+01:00")]


def test_after_downtime_a_period_within_the_grace_days_runs_once_and_older_ones_are_missed(any_database_app):
    app, client = any_database_app, any_database_app.test_client()
    make_class(client, zone="UTC")
    subscription = subscribe(client, every="week", day=1).get_json()["id"]
    as_if_created(app, subscription, datetime(2024, 3, 1, tzinfo=UTC))
    assert "1 run(s) queued, 2 missed" in tick(app, "2024-03-20T12:00:00Z")  # due 4, 11 and 18 March
    assert "0 run(s) queued, 0 missed" in tick(app, "2024-03-20T12:01:00Z")
    assert [(run["period"], run["status"]) for run in runs(client, subscription)] == [
        ("2024-W11", "queued"), ("2024-W10", "missed"), ("2024-W09", "missed")]


def test_two_ticks_at_once_and_run_now_for_the_same_period_make_one_run(any_database_app):
    app, client = any_database_app, any_database_app.test_client()
    make_class(client)
    subscription = subscribe(client).get_json()["id"]
    as_if_created(app, subscription, datetime(2024, 11, 15, tzinfo=UTC))
    other = create_app(dict(app.config))  # a second scheduler's worker: its own connections
    assert "1 run(s) queued" in tick(app, "2024-12-01T07:00:00+01:00")
    assert "0 run(s) queued" in tick(other, "2024-12-01T07:00:00+01:00")
    again = client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-11"})
    assert again.status_code == 409 and again.get_json()["run"]["period"] == "2024-11"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SubscriptionRun)) == 1
    with other.app_context():
        db.engine.dispose()


def test_a_paused_subscription_is_not_run_and_resumes_from_now(any_database_app):
    app, client = any_database_app, any_database_app.test_client()
    make_class(client)
    subscription = subscribe(client).get_json()["id"]
    as_if_created(app, subscription, datetime(2024, 11, 15, tzinfo=UTC))
    client.patch(f"/subscriptions/{subscription}", json={"paused": True})
    assert "0 subscription(s) due" in tick(app, "2024-12-01T07:00:00+01:00")
    assert runs(client, subscription) == []
    resumed = client.patch(f"/subscriptions/{subscription}", json={"paused": False}).get_json()
    assert resumed["next_run"] > "2026"  # from the real now, not the missed December


def test_run_now_refuses_a_period_of_the_other_kind_and_a_malformed_one(any_database_app):
    client = any_database_app.test_client()
    make_class(client)
    subscription = subscribe(client).get_json()["id"]
    assert client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-W48"}).status_code == 400
    assert client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-13"}).status_code == 400
    assert client.post(f"/subscriptions/{subscription}/run", json={"when": "now"}).status_code == 400


def test_a_run_that_redis_lost_is_queued_again_by_a_later_tick(app):
    from datetime import timedelta

    from redis import Redis
    from rq.job import Job
    from sqlalchemy import update

    from reportgen.models import utcnow

    client = app.test_client()
    make_class(client)
    subscription = subscribe(client).get_json()["id"]
    run = client.post(f"/subscriptions/{subscription}/run", json={"period": "2024-11"}).get_json()
    redis = Redis.from_url(app.config["REDIS_URL"])
    redis.flushdb()  # Redis lost the job
    with app.app_context():
        db.session.execute(update(SubscriptionRun).values(created_at=utcnow() - timedelta(minutes=11)))
        db.session.commit()
    tick(app, utcnow().isoformat())
    assert Job.exists(f"subscription-run-{run['id']}", connection=redis)


def test_erasing_a_class_erases_its_subscriptions_and_a_tick_needs_a_time_with_its_offset(any_database_app):
    app, client = any_database_app, any_database_app.test_client()
    make_class(client)
    subscription = subscribe(client).get_json()["id"]
    assert client.delete("/namespaces/python-101").status_code == 200
    assert client.get(f"/subscriptions/{subscription}").status_code == 404
    naive = app.test_cli_runner().invoke(args=["reportgen", "tick", "--now", "2024-12-01T07:00:00"])
    assert naive.exit_code == 2 and "offset" in naive.output
