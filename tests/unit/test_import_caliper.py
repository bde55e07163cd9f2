"""Caliper events in: the specification's envelopes, Canvas's Live Events samples, and the
mapping rules of issue 21."""
import json
from pathlib import Path

import pytest

from reportgen.domain.importers import ImportOptions, read_imported
from reportgen.domain.importers.caliper import read_caliper
from reportgen.domain.submission import MalformedJSON, SubmissionError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "caliper"
SECTION = "https://example.edu/terms/201801/courses/7/sections/1"
QUIZ = "https://example.edu/terms/201801/courses/7/sections/1/assess/1?ver=v1p0"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_bytes())


def event(actor="https://example.edu/users/1", action="Viewed", target="https://example.edu/reading/1",
          **extra) -> dict:
    made = {"type": "ViewEvent", "actor": actor, "action": action, "object": target,
            "eventTime": "2024-07-21T10:00:00.000Z"}
    made.update(extra)
    return made


def events(imported) -> list[tuple]:
    return [(s["student_id"], s["namespace"], e["unit"], e["type"], e["created_time"])
            for s in imported.students for e in s["events"]]


def test_the_specifications_single_event_envelope_is_one_event():
    imported = read_caliper(json.dumps(fixture("spec_single_event_payload.json")))
    assert events(imported) == [("https://example.edu/users/554433", SECTION, "https://example.edu", "Used",
                                 "2018-11-15T10:15:00.000Z")]


def test_the_mixed_payload_resolves_references_skips_entities_and_the_autograder():
    imported = read_caliper(json.dumps(fixture("spec_mixed_payload.json")))
    assert events(imported) == [
        ("https://example.edu/users/554433", SECTION, QUIZ, "Started", "2018-11-15T10:15:00.000Z"),
        ("https://example.edu/users/554433", SECTION, QUIZ, "Submitted", "2018-11-15T10:25:30.000Z"),
    ]
    assert imported.unit_names == {SECTION: {QUIZ: "Quiz One"}}
    assert imported.summary()["skipped_because"] == {"an entity description, not an event": 4,
                                                     "a software application as actor": 1}
    assert imported.read == 7


def test_canvas_events_use_the_login_and_the_asset_name():
    imported = read_caliper(json.dumps([fixture("canvas_navigation_assignment.json"),
                                        fixture("canvas_navigation_attachment.json")]))
    assert events(imported) == [("oxana@example.com", "urn:instructure:canvas:course:21070000000000565",
                                 "urn:instructure:canvas:assignment:21070000000000144", "NavigatedTo",
                                 "2019-11-01T00:09:06.700Z")]
    assert imported.unit_names == {"urn:instructure:canvas:course:21070000000000565": {
        "urn:instructure:canvas:assignment:21070000000000144": "Week 5 Math Homework"}}
    assert imported.skipped == {"a software application as actor": 1}


def test_json_lines_of_envelopes_as_a_queue_saves_them_are_read():
    lines = "\n".join(json.dumps(fixture(name)) for name in ("canvas_navigation_assignment.json",
                                                            "canvas_navigation_attachment.json",
                                                            "spec_single_event_payload.json"))
    imported = read_caliper(lines + "\n")
    assert [s["student_id"] for s in imported.students] == ["oxana@example.com", "https://example.edu/users/554433"]
    assert imported.read == 3


def test_the_sis_id_is_used_when_canvas_sends_no_login():
    actor = {"id": "urn:instructure:canvas:user:1", "type": "Person",
             "extensions": {"com.instructure.canvas": {"user_sis_id": "456-T45"}}}
    assert read_caliper(json.dumps([event(actor=actor)])).students[0]["student_id"] == "456-T45"


def test_the_namespace_is_the_group_id_else_its_course_number_else_the_given_one():
    imported = read_caliper(json.dumps([
        event(group={"id": "https://example.edu/sections/1", "courseNumber": "CPS 435-01"}),
        event(actor="https://example.edu/users/2", group={"type": "CourseSection", "courseNumber": "CPS 435-01"}),
        event(actor="https://example.edu/users/3"),
    ]), ImportOptions(namespace="given"))
    assert [s["namespace"] for s in imported.students] == ["https://example.edu/sections/1", "CPS 435-01", "given"]


def test_a_list_of_events_is_read_and_an_event_repeated_by_id_counts_once():
    body = json.dumps([event(id="urn:uuid:1"), event(id="urn:uuid:1"), event(id="urn:uuid:2", eventTime=None)])
    imported = read_caliper(body)
    assert [e[4] for e in events(imported)] == ["2024-07-21T10:00:00.000Z", None]
    assert imported.skipped == {"a duplicate of an earlier event (the same id)": 1}


def test_one_event_alone_is_read():
    assert read_caliper(json.dumps(event())).used == 1


def test_units_are_ordered_by_first_appearance_in_time():
    imported = read_caliper(json.dumps([event(target="urn:b", eventTime="2024-07-21T10:00:00Z"),
                                        event(target="urn:a", eventTime="2024-07-21T11:00:00Z")]))
    assert imported.upload().options.units == {"": ("urn:b", "urn:a")}


@pytest.mark.parametrize("broken, problem", [
    ({"action": "Viewed", "object": "urn:x"}, "the actor is missing"),
    (event(actor=7), "the actor must be an object or an IRI, not a number"),
    (event(actor={"type": "Person"}), "the actor id must be non-empty text, not null"),
    (event(action=""), "the action must be non-empty text, not a string"),
    (event(target={"type": "Page"}), "the object id must be non-empty text, not null"),
    (event(eventTime="0000-01-01T00:00:00Z"),
     "the eventTime '0000-01-01T00:00:00Z' is not an ISO 8601 date-time (e.g. 2024-07-21T03:04:55.939Z)"),
    (event(eventTime="99999-01-01T00:00:00Z"),
     "the eventTime '99999-01-01T00:00:00Z' is not an ISO 8601 date-time (e.g. 2024-07-21T03:04:55.939Z)"),
    ("an event", "must be an object (an event), not a string"),
])
def test_an_event_that_cannot_be_read_is_named_by_its_number(broken, problem):
    with pytest.raises(SubmissionError) as caught:
        read_caliper(json.dumps({"sensor": "s", "sendTime": "t", "data": [event(), broken]}))
    assert caught.value.details == {"event 2": problem}


def test_an_envelope_whose_data_is_not_a_list_is_a_clear_error():
    with pytest.raises(SubmissionError) as caught:
        read_caliper(json.dumps({"sensor": "s", "sendTime": "t", "data": "x"}))
    assert caught.value.details == {"$": "an envelope's data must be an array of events, not a string"}


def test_hostile_caliper_is_a_clear_error():
    deep = '{"sensor": "s", "data": [' + "[" * 10_000 + "]" * 10_000 + "]}"
    with pytest.raises(MalformedJSON):
        read_caliper(deep)
    with pytest.raises(MalformedJSON):
        read_imported(json.dumps([event(actor={"id": "Zoë", "type": "Person"})], ensure_ascii=False)
                      .encode("latin-1"), "caliper")
    assert read_imported(b"\xef\xbb\xbf" + json.dumps([event()]).encode(), "caliper").used == 1
