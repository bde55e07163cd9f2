"""Duplicates by event id in a class's history: an event whose id the student's history holds is
a duplicate whatever its time or unit (xAPI statement ids, Caliper event ids, JSON ``id``);
events without ids keep the rule of the same student, unit, type and time. On PostgreSQL and
SQLite."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta
from datetime import timezone as tz

from sqlalchemy import func, select, update

from reportgen.extensions import db
from reportgen.models import ClassEvent, ClassEventId, ClassStudent, utcnow
from reportgen.pipeline.sweeper import sweep

from ..support import class_forms
from ..support.api import post_json, submit
from ..support.payloads import event, student


def append(client, document, namespace="python-101"):
    return post_json(client, f"/namespaces/{namespace}/events", document)


def with_id(body: dict, event_id) -> dict:
    return {**body, "id": event_id}


def later(text: str, hours: int = 1) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(hours=hours)
    return moment.astimezone(tz.utc).isoformat()


def stored_ids(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ClassEventId))


def test_an_lrs_export_appended_again_with_its_statements_re_timed_adds_nothing(any_database_app):
    client = any_database_app.test_client()
    statements = class_forms.as_xapi()
    first = append(client, statements, class_forms.COURSE)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["added"] == len(statements) and first.get_json()["duplicates"] == 0
    before = client.get(f"/namespaces/{class_forms.COURSE}").get_json()
    re_timed = copy.deepcopy(statements)
    for statement in re_timed:  # the LRS's second export: the same statements an hour later
        statement["timestamp"] = later(statement["timestamp"])
    again = append(client, re_timed, class_forms.COURSE).get_json()
    assert (again["received"], again["added"], again["duplicates"]) == (len(statements), 0, len(statements))
    after = client.get(f"/namespaces/{class_forms.COURSE}").get_json()
    assert (after["events"], after["first_event"], after["last_event"], after["months"]) == (
        before["events"], before["first_event"], before["last_event"], before["months"])
    assert stored_ids(any_database_app) == len(statements)


def test_caliper_events_appended_again_re_timed_and_on_other_units_add_nothing(any_database_app):
    client = any_database_app.test_client()
    envelope = class_forms.as_caliper()
    count = len(envelope["data"])
    assert append(client, envelope, class_forms.COURSE).get_json()["added"] == count
    moved = copy.deepcopy(envelope)
    for item in moved["data"]:
        item["eventTime"] = later(item["eventTime"], hours=-3)
        item["object"]["id"] += "/moved"
    again = append(client, moved, class_forms.COURSE).get_json()
    assert (again["added"], again["duplicates"]) == (0, count)
    assert client.get(f"/namespaces/{class_forms.COURSE}").get_json()["events"] == count


def test_two_events_alike_in_all_four_fields_but_with_different_ids_are_one_event_and_both_ids_are_kept(
        any_database_app):
    client = any_database_app.test_client()
    at = "2024-12-02T10:00:00Z"
    twins = [student("s-001", [with_id(event(1, at), "a"), with_id(event(1, at), "b")], "python-101")]
    answer = append(client, twins).get_json()
    assert (answer["received"], answer["added"], answer["duplicates"]) == (2, 1, 1)
    # "b" was taken for the same event as "a", so "b" re-timed is that event again; "c" is new
    re_timed = [student("s-001", [with_id(event(2, "2024-12-03T09:00:00Z"), "b"),
                                  with_id(event(2, "2024-12-03T09:00:00Z"), "c")], "python-101")]
    answer = append(client, re_timed).get_json()
    assert (answer["added"], answer["duplicates"]) == (1, 1)
    # an event without an id keeps the four-field rule, also against an event that had one
    plain = [student("s-001", [event(1, at), event(1, "2024-12-04T09:00:00Z")], "python-101")]
    assert append(client, plain).get_json()["added"] == 1
    assert client.get("/namespaces/python-101").get_json()["events"] == 3


def test_a_json_event_id_makes_its_event_a_duplicate_whatever_its_time_and_unit(any_database_app):
    client = any_database_app.test_client()
    first = [student("s-001", [with_id(event(1, "2024-12-01T10:00:00Z"), "evt-1"),
                               with_id(event(2, "2024-12-01T11:00:00Z"), 42)], "python-101")]
    assert append(client, first).get_json()["added"] == 2
    second = [student("s-001", [with_id(event(7, "2025-01-05T10:00:00Z", "submit"), "evt-1"),
                                with_id(event(8, "2025-01-05T11:00:00Z"), "42"),  # 42 and "42" are one id
                                with_id(event(8, "2025-01-05T12:00:00Z"), "evt-2"),
                                event(9, "2025-01-05T13:00:00Z")], "python-101"),
              # ids are a student's own: another student's "evt-1" is another event
              student("s-002", [with_id(event(1, "2024-12-01T10:00:00Z"), "evt-1")], "python-101")]
    answer = append(client, second).get_json()
    assert (answer["received"], answer["added"], answer["duplicates"]) == (5, 3, 2)
    assert answer["first_event"] == "2024-12-01T10:00:00Z" and answer["last_event"] == "2025-01-05T13:00:00Z"
    described = client.get("/namespaces/python-101").get_json()
    assert described["months"] == [{"month": "2024-12", "events": 3}, {"month": "2025-01", "events": 2}]
    mine = {row["student_id"]: row for row in described["students_list"]}["s-001"]
    assert (mine["events"], mine["last_event"]) == (4, "2025-01-05T13:00:00Z")


def test_a_bad_event_id_is_a_400_naming_the_field_and_stores_nothing(any_database_app):
    client = any_database_app.test_client()
    good = with_id(event(1, "2024-12-01T10:00:00Z"), "fine")
    for bad, reason in (("", "must not be empty (leave it out if the event has no id)"),
                        ("   ", "must not be empty (leave it out if the event has no id)"),
                        (True, "must be a string or an integer, not a boolean"),
                        ({"uuid": "x"}, "must be a string or an integer, not an object"),
                        ("x" * 257, "has 257 characters; an event id may have at most 256"),
                        ("a\u0000b", "contains a NUL character (\\u0000), which cannot be stored; remove it")):
        response = append(client, [student("s-001", [good, with_id(event(2, "2024-12-01T11:00:00Z"), bad)],
                                           "python-101")])
        assert response.status_code == 400, bad
        assert response.get_json()["details"] == {"[0].events[1].id": reason}
    assert client.get("/namespaces/python-101").status_code == 404
    assert stored_ids(any_database_app) == 0
    too_long = append(client, class_forms.as_xapi()[:1] + [{**class_forms.as_xapi()[1], "id": "u" * 300}],
                      class_forms.COURSE)
    assert too_long.status_code == 400
    assert list(too_long.get_json()["details"].values()) == ["has 300 characters; an event id may have at most 256"]


def test_erasure_and_retention_take_the_ids_with_the_events(any_database_app):
    client = any_database_app.test_client()
    events = [with_id(event(1, "2024-12-01T10:00:00Z"), "e1"), with_id(event(2, "2024-12-02T10:00:00Z"), "e2")]
    re_timed = [with_id(event(1, "2024-12-09T10:00:00Z"), "e1"), with_id(event(2, "2024-12-10T10:00:00Z"), "e2")]
    append(client, [student("s-001", events, "python-101"), student("s-002", events, "python-101")])
    assert stored_ids(any_database_app) == 4
    assert client.delete("/namespaces/python-101/students/s-001").get_json()["events_erased"] == 2
    assert stored_ids(any_database_app) == 2
    # erased: the same ids are new events again
    assert append(client, [student("s-001", re_timed, "python-101")]).get_json()["added"] == 2
    with any_database_app.app_context():
        any_database_app.config["REPORTGEN_EVENT_RETENTION_DAYS"] = 30
        number = db.session.scalar(select(ClassStudent.id).where(ClassStudent.student_id == "s-002"))
        db.session.execute(update(ClassEvent).where(ClassEvent.student == number)
                           .values(added_day=ClassEvent.added_day - 40))
        db.session.execute(update(ClassEventId).where(ClassEventId.student == number)
                           .values(added_day=ClassEventId.added_day - 40))
        db.session.execute(update(ClassStudent).where(ClassStudent.id == number)
                           .values(first_added=ClassStudent.first_added - 40))
        db.session.commit()
        assert sweep(now=utcnow()).class_events_expired == 2
    assert stored_ids(any_database_app) == 2  # s-001's, stored today
    assert append(client, [student("s-002", re_timed, "python-101")]).get_json()["added"] == 2
    gone = client.delete("/namespaces/python-101").get_json()
    assert (gone["students_erased"], gone["events_erased"]) == (2, 4)
    assert stored_ids(any_database_app) == 0


def test_an_upload_with_event_ids_makes_its_report_as_without_them(client, run_worker):
    timed = [event(1, "2024-12-01T10:00:00Z"), event(2, "2024-12-01T10:05:00Z")]
    with_ids = submit(client, "csv", [student("alice", [with_id(timed[0], "e1"), with_id(timed[1], 2)])])
    without = submit(client, "csv", [student("alice", timed)])
    run_worker()
    reports = [client.get(f"/assignment/csv/{task_id}") for task_id in (with_ids, without)]
    assert [report.status_code for report in reports] == [200, 200]
    assert reports[0].data == reports[1].data and b"alice" in reports[0].data


def test_a_purge_that_empties_a_student_takes_the_ids_stored_after_its_last_event_too(any_database_app):
    client = any_database_app.test_client()
    at = "2024-12-02T10:00:00Z"
    assert append(client, [student("s-001", [with_id(event(1, at), "old")], "python-101")]).get_json()["added"] == 1
    with any_database_app.app_context():
        any_database_app.config["REPORTGEN_EVENT_RETENTION_DAYS"] = 30
        for table in (ClassEvent, ClassEventId):
            db.session.execute(update(table).values(added_day=table.added_day - 40))
        db.session.execute(update(ClassStudent).values(first_added=ClassStudent.first_added - 40))
        db.session.commit()
    # the same event again under another id: no event added, the id kept from today
    twin = append(client, [student("s-001", [with_id(event(1, at), "new")], "python-101")]).get_json()
    assert (twin["added"], stored_ids(any_database_app)) == (0, 2)
    with any_database_app.app_context():
        assert sweep(now=utcnow()).class_events_expired == 1
    assert stored_ids(any_database_app) == 0
    assert client.get("/namespaces/python-101").get_json()["students"] == 0
