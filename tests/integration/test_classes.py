"""Classes that remember: appending events to a namespace's history, duplicates, erasure, time
zones, ownership, summaries, period reports and retention, on PostgreSQL and SQLite."""
from __future__ import annotations

from datetime import timedelta

import pytest

from sqlalchemy import update

from reportgen.extensions import db
from reportgen.models import ClassEvent, ClassStudent, utcnow
from reportgen.pipeline.sweeper import sweep

from ..support.api import bearer, post_json
from ..support.payloads import event, student

TOKENS = ["first-token-" + "a" * 30, "second-token-" + "b" * 30]


def december_class() -> list[dict]:
    """Three students of python-101 around the turn of November and December 2024."""
    return [
        student("s-001", [event(1, "2024-11-30T23:30:00Z"), event(2, "2024-12-02T10:00:00Z"),
                          event(2, "2024-12-02T10:10:00Z", "submit")], "python-101"),
        student("s-002", [event(1, "2024-11-15T08:00:00Z"), event(1, "2024-12-20T08:00:00Z")], "python-101"),
        student("s-003", [event(3, "2024-11-29T12:00:00Z")], "python-101"),
    ]


def append(client, students, namespace="python-101", **kwargs):
    return post_json(client, f"/namespaces/{namespace}/events", students, **kwargs)


def test_appending_the_same_events_twice_adds_them_once(any_database_app):
    client = any_database_app.test_client()
    first = append(client, december_class())
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"namespace": "python-101", "received": 6, "added": 6, "duplicates": 0, "students": 3,
                                "first_event": "2024-11-15T08:00:00Z", "last_event": "2024-12-20T08:00:00Z"}
    again = append(client, december_class()).get_json()
    assert (again["received"], again["added"], again["duplicates"]) == (6, 0, 6)
    overlapping = [{"student_id": "s-001", "events": [event(2, "2024-12-02T10:00:00Z"), event(4, "2024-12-03T09:00:00Z")]}]
    assert append(client, overlapping).get_json()["added"] == 1  # namespace absent: the path's
    listed = client.get("/namespaces").get_json()["namespaces"]
    assert [(c["namespace"], c["students"], c["events"]) for c in listed] == [("python-101", 3, 7)]
    described = client.get("/namespaces/python-101").get_json()
    assert described["months"] == [{"month": "2024-11", "events": 3}, {"month": "2024-12", "events": 4}]


def test_one_append_counts_students_with_only_later_events_and_students_with_earlier_ones_each_rightly(
        any_database_app):
    client = any_database_app.test_client()
    assert append(client, december_class()).get_json()["added"] == 6
    mixed = [  # s-001: one event later than its stored ones, twice; s-002: one stored, one earlier; s-004: new
        student("s-001", [event(5, "2025-01-05T09:00:00Z"), event(5, "2025-01-05T09:00:00Z")], "python-101"),
        student("s-002", [event(1, "2024-11-15T08:00:00Z"), event(1, "2024-11-16T08:00:00Z")], "python-101"),
        student("s-004", [event(1, "2024-12-01T08:00:00Z")], "python-101"),
    ]
    answer = append(client, mixed).get_json()
    assert (answer["received"], answer["added"], answer["duplicates"]) == (5, 3, 2)
    listed = {row["student_id"]: row["events"] for row in client.get("/namespaces/python-101").get_json()["students_list"]}
    assert listed == {"s-001": 4, "s-002": 3, "s-003": 1, "s-004": 1}
    assert client.delete("/namespaces/python-101").get_json()["events_erased"] == 9
    with any_database_app.app_context():
        assert db.session.query(ClassEvent).count() == 0  # erased with the class, on both databases


def test_a_csv_appends_like_json(any_database_app):
    client = any_database_app.test_client()
    body = "student_id,unit,type,created_time\ns-1,7,saved_code,2024-12-01T10:00:00Z\ns-1,7,saved_code,2024-12-01T10:00:00Z\n"
    response = client.post("/namespaces/csv-class/events", data=body, content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["added"], response.get_json()["duplicates"]) == (1, 1)


def test_an_event_at_2330_utc_on_30_november_is_december_in_berlin(any_database_app):
    client = any_database_app.test_client()
    append(client, december_class())
    utc = client.get("/namespaces/python-101/summary?period=2024-12").get_json()
    assert (utc["events"], utc["active_students"]) == (3, 2)
    assert client.put("/namespaces/python-101", json={"timezone": "Europe/Berlin"}).status_code == 200
    berlin = client.get("/namespaces/python-101/summary?period=2024-12").get_json()
    assert (berlin["events"], berlin["active_students"]) == (4, 2)
    assert berlin["period"]["name"] == "December 2024" and berlin["period"]["timezone"] == "Europe/Berlin"
    assert berlin["previous"]["events"] == 2
    assert client.get("/namespaces/python-101").get_json()["months"] == [
        {"month": "2024-11", "events": 2}, {"month": "2024-12", "events": 4}]


def test_untimed_events_are_refused_with_their_paths_and_nothing_is_stored(any_database_app):
    client = any_database_app.test_client()
    students = december_class() + [student("s-004", [event(1, "2024-12-01T10:00:00Z"), event(2)], "python-101")]
    response = append(client, students)
    assert response.status_code == 400
    assert list(response.get_json()["details"]) == ["[3].events[1].created_time"]
    assert "belongs to no month or week" in response.get_json()["details"]["[3].events[1].created_time"]
    assert client.get("/namespaces").get_json() == {"namespaces": []}
    with any_database_app.app_context():
        assert db.session.query(ClassEvent).count() == 0


@pytest.mark.parametrize("case", ["other namespace", "nul namespace", "long namespace", "bad period", "week 54",
                                  "unknown zone", "zone with NUL", "bad window"])
def test_hostile_input_gets_a_clear_4xx_and_stores_nothing(any_database_app, case):
    client = any_database_app.test_client()
    append(client, december_class())
    if case == "other namespace":
        response = append(client, [student("s-9", [event(1, "2024-12-01T10:00:00Z")], "chemistry")])
        assert response.status_code == 400 and list(response.get_json()["details"]) == ["[0].namespace"]
    elif case == "nul namespace":
        response = append(client, [{"student_id": "s-9", "events": [event(1, "2024-12-01T10:00:00Z")]}],
                          namespace="py%00thon")
        assert response.status_code == 400 and "NUL" in response.get_json()["details"]["namespace"]
    elif case == "long namespace":
        response = append(client, [{"student_id": "s-9", "events": [event(1, "2024-12-01T10:00:00Z")]}],
                          namespace="n" * 10_000)
        assert response.status_code == 400 and "at most 200 characters" in response.get_json()["details"]["namespace"]
        assert client.get("/namespaces/" + "n" * 10_000).status_code == 404
    elif case in ("bad period", "week 54"):
        period = "2024-13" if case == "bad period" else "2024-W54"
        response = client.get(f"/namespaces/python-101/summary?period={period}")
        assert response.status_code == 400 and list(response.get_json()["details"]) == ["period"]
        response = post_json(client, "/assignment/html", {"namespace": "python-101", "period": period})
        assert response.status_code == 400 and list(response.get_json()["details"]) == ["period"]
    elif case in ("unknown zone", "zone with NUL"):
        zone = "Mars/Olympus_Mons" if case == "unknown zone" else "Europe/Ber\x00lin"
        response = client.put("/namespaces/python-101", json={"timezone": zone})
        assert response.status_code == 400 and "is not an IANA time zone" in response.get_json()["details"]["timezone"]
        assert client.get("/namespaces/python-101").get_json()["timezone"] == "UTC"
    else:
        response = post_json(client, "/assignment/html",
                             {"namespace": "python-101", "window": {"from": "2024-12-10", "to": "2024-12-01"}})
        assert response.status_code == 400 and list(response.get_json()["details"]) == ["window.to"]
    listed = client.get("/namespaces").get_json()["namespaces"]
    assert [(c["namespace"], c["events"]) for c in listed] == [("python-101", 6)]


def test_erasing_a_student_and_a_class_answers_with_the_counts(any_database_app):
    client = any_database_app.test_client()
    append(client, december_class())
    erased = client.delete("/namespaces/python-101/students/s-001")
    assert erased.status_code == 200 and erased.get_json()["events_erased"] == 3
    assert client.delete("/namespaces/python-101/students/s-001").status_code == 404
    summary = client.get("/namespaces/python-101/summary?period=2024-12").get_json()
    assert (summary["students"], summary["events"]) == (2, 1)
    empty = post_json(client, "/assignment/html", {"namespace": "python-101", "period": "2024-12",
                                                   "student_id": "s-001"})
    assert empty.status_code == 422
    assert empty.get_json()["error"] == "s-001 in python-101 has no events in December 2024 (UTC)"
    gone = client.delete("/namespaces/python-101")
    assert gone.get_json() == {"namespace": "python-101", "students_erased": 2, "events_erased": 3}
    assert client.get("/namespaces/python-101").status_code == 404


def test_events_on_either_side_of_midnight_1970_are_counted_read_and_erased(any_database_app):
    """PostgreSQL finds events by their UTC day (migration 0024), which its integer division
    truncates toward zero: an event half a second before 1970 is on day 0 there, as midnight is."""
    client = any_database_app.test_client()
    times = ["1969-12-31T12:00:00Z", "1969-12-31T23:59:59.500Z", "1970-01-01T00:00:00Z", "1970-01-01T23:59:59Z"]
    others = [student(f"o-{number}", [event(1, moment) for moment in times], "other") for number in range(3)]
    assert append(client, others, "other").get_json()["added"] == 12  # epoch's one student is then named by list
    events = [student("s-001", [event(1, moment) for moment in times], "epoch")]
    assert append(client, events, "epoch").get_json()["added"] == 4
    assert append(client, events, "epoch").get_json()["added"] == 0
    described = client.get("/namespaces/epoch").get_json()
    assert described["months"] == [{"month": "1969-12", "events": 2}, {"month": "1970-01", "events": 2}]
    from_events = client.get("/namespaces/epoch/summary?from=1969-12-31T00:00:01&to=1970-01-01").get_json()
    assert from_events["events"] == 4
    report = post_json(client, "/assignment/csv", {"namespace": "epoch", "window": {"from": "1969-12-31T23:59:59Z",
                                                                                   "to": "1970-01-01T00:00:00Z"}})
    assert report.status_code == 202, report.get_json()
    erased = client.delete("/namespaces/epoch/students/s-001")
    assert erased.get_json()["events_erased"] == 4
    with any_database_app.app_context():
        assert db.session.query(ClassEvent).count() == 12  # the other class's


def test_another_token_gets_404_for_a_class_it_did_not_store(make_app):
    app = make_app(REPORTGEN_API_TOKENS=TOKENS)
    client = app.test_client()
    assert append(client, december_class(), headers=bearer(TOKENS[0])).status_code == 200
    other = bearer(TOKENS[1])
    assert client.get("/namespaces", headers=other).get_json() == {"namespaces": []}
    assert client.get("/namespaces/python-101", headers=other).status_code == 404
    assert client.get("/namespaces/python-101/summary?period=2024-12", headers=other).status_code == 404
    assert client.delete("/namespaces/python-101/students/s-001", headers=other).status_code == 404
    assert post_json(client, "/assignment/html", {"namespace": "python-101", "period": "2024-12"},
                     headers=other).status_code == 404
    # the other token's own class of the same name is its own
    assert append(client, december_class()[:1], headers=other).get_json()["added"] == 3
    mine = client.get("/namespaces/python-101", headers=bearer(TOKENS[0])).get_json()
    assert mine["events"] == 6


def test_an_upload_with_keep_stores_its_events_and_still_makes_the_report(any_database_app):
    client = any_database_app.test_client()
    response = post_json(client, "/assignment/html", {"students": december_class(), "keep": True})
    assert response.status_code == 202, response.get_json()
    assert client.get("/namespaces/python-101").get_json()["events"] == 6
    refused = post_json(client, "/assignment/html", {"students": [student("x", [event(1)], "python-101")],
                                                     "keep": True})
    assert refused.status_code == 400 and list(refused.get_json()["details"]) == ["students[0].events[0].created_time"]
    plain = post_json(client, "/assignment/html", {"students": [student("y", [event(1)], "other")]})
    assert plain.status_code == 202
    assert [c["namespace"] for c in client.get("/namespaces").get_json()["namespaces"]] == ["python-101"]


def test_retention_counts_from_the_day_events_were_stored_not_from_their_time(any_database_app):
    client = any_database_app.test_client()
    append(client, december_class())  # events of 2024, stored today
    stored = utcnow()
    with any_database_app.app_context():
        any_database_app.config["REPORTGEN_EVENT_RETENTION_DAYS"] = 30
        assert sweep(now=stored + timedelta(days=30)).class_events_expired == 0
    later = [student("s-001", [event(5, "2024-12-05T10:00:00Z")], "python-101")]
    with any_database_app.app_context():
        db.session.execute(update(ClassEvent).values(added_day=ClassEvent.added_day - 40))  # stored 40 days ago
        db.session.execute(update(ClassStudent).values(first_added=ClassStudent.first_added - 40))
        db.session.commit()
    assert append(client, later).get_json()["added"] == 1  # stored today
    assert append(client, december_class()).get_json()["added"] == 0  # a duplicate keeps its first day
    with any_database_app.app_context():
        assert sweep(now=stored).class_events_expired == 6
    described = client.get("/namespaces/python-101").get_json()
    assert (described["students"], described["events"]) == (1, 1)
    assert described["first_event"] == described["last_event"] == "2024-12-05T10:00:00Z"


def test_a_period_report_equals_an_upload_of_the_same_events_with_the_same_window(app, run_worker):
    client = app.test_client()
    append(client, december_class())
    client.put("/namespaces/python-101", json={"timezone": "Europe/Berlin"})
    response = post_json(client, "/assignment/html", {"namespace": "python-101", "period": "2024-12"})
    assert response.status_code == 202, response.get_json()
    period_id = response.get_json()["task_id"]
    window = {"from": "2024-11-30T23:00:00Z", "to": "2024-12-31T22:59:59.999999Z"}
    active = december_class()[:2]  # a period report is of the students with events in the period
    upload = post_json(client, "/assignment/html", {"students": active, "options": {"window": window}})
    upload_id = upload.get_json()["task_id"]
    run_worker()
    from_history = client.get(f"/assignment/html/{period_id}", headers={"Accept": "application/json"}).get_json()
    from_upload = client.get(f"/assignment/html/{upload_id}", headers={"Accept": "application/json"}).get_json()
    assert from_history["status"] == "SUCCESS"
    by_id = {s["student_id"]: s for s in from_upload["students"]}
    assert [s["student_id"] for s in from_history["students"]] == ["s-001", "s-002"]
    for reported in from_history["students"]:
        uploaded = by_id[reported["student_id"]]["metrics"]
        history_activity, upload_activity = reported["metrics"].pop("activity"), uploaded.pop("activity")
        assert reported["metrics"] == uploaded
        assert sum(history_activity["events"]) == sum(upload_activity["events"]) == uploaded["events"]
    s_001 = next(s for s in from_history["students"] if s["student_id"] == "s-001")
    assert [flag["code"] for flag in s_001["metrics"]["flags"]] == ["went_quiet"]  # nothing after 2 December
    change = next(s for s in client.get(f"/assignment/html/{period_id}", headers={"Accept": "application/json"})
                  .get_json()["students"] if s["student_id"] == "s-002")["metrics"]["activity"]["change"]
    assert change["previous_period"] == "November 2024"
    assert change["events"] == {"now": 1, "before": 1, "percent": 0}
    assert from_history["sequences"] == from_upload["sequences"]
    assert from_history["cohort"] == from_upload["cohort"]
    page = client.get(f"/assignment/html/{period_id}").get_data(as_text=True)
    assert "python-101 · December 2024 (Europe/Berlin)" in page
    assert "Activity per day" in page and "events 1, the same as in November 2024" in page
    assert "Went quiet: active earlier in the period, no events in its last 14 days." in page  # s-001
    summary = client.get("/namespaces/python-101/summary?period=2024-12").get_json()
    assert [(r["task_id"], r["status"]) for r in summary["reports"]] == [(period_id, "SUCCESS")]


def test_the_per_day_roll_up_after_appends_in_any_order_equals_one_rebuilt_from_the_events(any_database_app):
    client = any_database_app.test_client()
    assert client.put("/namespaces/python-101", json={"timezone": "Europe/Berlin"}).status_code == 404  # no class yet
    late = [student("s-001", [event(1, "2024-12-02T10:20:00Z"), event(3, "2024-12-02T23:10:00Z")], "python-101")]
    assert append(client, late).get_json()["added"] == 2
    assert client.put("/namespaces/python-101", json={"timezone": "Europe/Berlin"}).status_code == 200
    assert append(client, december_class()).get_json()["added"] == 6  # earlier events into days already rolled up
    with any_database_app.app_context():
        from reportgen.history import rollup
        from reportgen.models import ClassDay, SchoolClass

        def days():
            return sorted((row.student, row.day, row.events, row.on_task_us, row.first_at, row.last_at)
                          for row in db.session.query(ClassDay))
        kept = days()
        rollup.rebuild_class(db.session.query(SchoolClass).one())
        assert days() == kept
        db.session.rollback()
    summary = client.get("/namespaces/python-101/summary?period=2024-12").get_json()
    # s-001 in Berlin's December: 30 Nov 23:30 UTC, 2 Dec 10:00, 10:10, 10:20, 23:10 (3 Dec in Berlin);
    # on task: 10 + 10 minutes (the gaps across days are over the cutoff); s-002: 20 December only
    assert (summary["events"], summary["active_students"], summary["time_on_task_seconds"]) == (6, 2, 1200)
    assert summary["active_days"] == 3 + 1
