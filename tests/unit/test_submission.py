"""Validation rules of the submission format, each with the path a user sees."""
import json
from datetime import timezone

import pytest

from reportgen.domain.submission import MalformedJSON, SubmissionError, parse_submission, parse_text, to_document


def details_of(document) -> dict[str, str]:
    with pytest.raises(SubmissionError) as caught:
        parse_submission(document)
    return caught.value.details


def test_single_object_and_array_are_both_accepted():
    one = {"student_id": "s1", "events": []}
    assert [s.student_id for s in parse_submission(one)] == ["s1"]
    assert [s.student_id for s in parse_submission([one, {**one, "student_id": "s2"}])] == ["s1", "s2"]


def test_namespace_is_optional_and_extra_fields_are_ignored():
    [student] = parse_submission({"student_id": "s", "events": [{"unit": 1, "extra": [1]}], "grade": 7})
    assert student.namespace == ""
    assert student.events[0].unit == "1"
    assert student.events[0].type is None and student.events[0].created_at is None


@pytest.mark.parametrize("document, path, reason", [
    ({"events": []}, "student_id", "is required"),
    ({"student_id": "", "events": []}, "student_id", "must not be empty"),
    ({"student_id": "   ", "events": []}, "student_id", "must not be empty"),
    ({"student_id": 12, "events": []}, "student_id", "must be a string, not a number"),
    ({"student_id": "s", "namespace": 3, "events": []}, "namespace", "must be a string, not a number"),
    ({"student_id": "s"}, "events", "is required"),
    ({"student_id": "s", "events": {}}, "events", "must be an array, not an object"),
    ({"student_id": "s", "events": [7]}, "events[0]", "must be an object, not a number"),
    ({"student_id": "s", "events": [{}]}, "events[0].unit", "is required"),
    ({"student_id": "s", "events": [{"unit": 1.5}]}, "events[0].unit", "must be a non-empty string or an integer, not a number"),
    ({"student_id": "s", "events": [{"unit": True}]}, "events[0].unit", "must be a non-empty string or an integer, not a boolean"),
    ({"student_id": "s", "events": [{"unit": ""}]}, "events[0].unit", "must be a non-empty string or an integer, not a string"),
    ({"student_id": "s", "events": [{"unit": None}]}, "events[0].unit", "must be a non-empty string or an integer, not null"),
    ({"student_id": "s", "events": [{"unit": 1, "type": 3}]}, "events[0].type", "must be a string, not a number"),
    ({"student_id": "s", "events": [{"unit": 1, "created_time": 1721531095}]}, "events[0].created_time",
     "must be an ISO 8601 string, not a number"),
])
def test_field_rules_name_the_field(document, path, reason):
    assert details_of(document) == {path: reason}


def test_paths_in_an_array_carry_the_student_index():
    good = {"student_id": "a", "events": []}
    events = [{"unit": 1}] * 5 + [{"unit": 1, "created_time": "yesterday"}]
    details = details_of([good, good | {"student_id": "b"}, {"student_id": "c", "events": events}])
    assert list(details) == ["[2].events[5].created_time"]
    assert "'yesterday' is not an ISO 8601 date-time" in details["[2].events[5].created_time"]


def test_every_problem_is_reported_at_once():
    details = details_of([{"events": [{"unit": []}]}, "nope"])
    assert details == {
        "[0].student_id": "is required",
        "[0].events[0].unit": "must be a non-empty string or an integer, not an array",
        "[1]": "must be an object, not a string",
    }


@pytest.mark.parametrize("document, reason", [
    ([], "must contain at least one student"),
    ("text", "must be a student object or an array of them, not a string"),
    (42, "must be a student object or an array of them, not a number"),
    (None, "must be a student object or an array of them, not null"),
])
def test_top_level_shape(document, reason):
    assert details_of(document) == {"$": reason}


def test_duplicate_student_in_one_namespace_is_rejected_but_not_across_namespaces():
    a = {"student_id": "a", "namespace": "x", "events": []}
    details = details_of([a, a])
    assert list(details) == ["[1].student_id"] and "duplicates [0]" in details["[1].student_id"]
    assert len(parse_submission([a, a | {"namespace": "y"}])) == 2


@pytest.mark.parametrize("created_time, iso_utc", [
    ("2024-07-21 03:04:55.939000+00:00", "2024-07-21T03:04:55.939000+00:00"),
    ("2024-07-21T03:04:55Z", "2024-07-21T03:04:55+00:00"),
    ("2024-07-21T05:04:55+02:00", "2024-07-21T03:04:55+00:00"),
    ("2024-07-20T23:04:55.5-04:00", "2024-07-21T03:04:55.500000+00:00"),
    ("2024-07-21 03:04:55", "2024-07-21T03:04:55+00:00"),
    ("2024-07-21T03:04:55.123456789Z", "2024-07-21T03:04:55.123456+00:00"),
])
def test_accepted_time_forms(created_time, iso_utc):
    [student] = parse_submission({"student_id": "s", "events": [{"unit": 1, "created_time": created_time}]})
    moment = student.events[0].created_at
    assert moment.tzinfo is not None
    assert moment.astimezone(timezone.utc).isoformat() == iso_utc


@pytest.mark.parametrize("text, line, column", [
    ('{"student_id": "s",\n  "events": [}', 2, 14),
    ('{"student_id": NaN, "events": []}', 1, 16),  # at the NaN itself
])
def test_malformed_json_reports_line_and_column(text, line, column):
    with pytest.raises(MalformedJSON) as caught:
        parse_text(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.message == "malformed JSON"
    assert f"line {line}, column {column}" in caught.value.details["$"]


def test_invalid_utf8_is_malformed():
    with pytest.raises(MalformedJSON) as caught:
        parse_text(b'{"student_id": "\xff"}')
    assert "not UTF-8" in caught.value.details["$"]


def test_canonical_document_round_trips():
    students = parse_submission([{"student_id": "s", "namespace": "n",
                                  "events": [{"unit": 17, "type": "t", "created_time": "2024-07-21T05:00:00+02:00"}]}])
    assert parse_text(json.dumps(to_document(students))) == students


def test_an_envelope_carries_students_and_recipients():
    from reportgen.domain.upload import parse_upload

    upload = parse_upload({"students": [{"student_id": "a", "events": []}],
                           "email": ["Teacher@Example.org", "teacher@example.org", "b@example.org"]})
    assert [s.student_id for s in upload.students] == ["a"]
    assert upload.recipients == ("Teacher@example.org", "b@example.org")
    assert parse_upload({"student_id": "a", "events": [], "email": "ignored@example.org"}).recipients == ()
    assert parse_upload([{"student_id": "a", "events": []}], ["form@example.org"]).recipients == ("form@example.org",)


def test_envelope_problems_are_reported_with_their_paths_together():
    from reportgen.domain.upload import parse_upload

    with pytest.raises(SubmissionError) as caught:
        parse_upload({"students": [{"student_id": "a", "events": [{}]}], "email": ["ok@example.org", "nope", 3]})
    details = caught.value.details
    assert details["students[0].events[0].unit"] == "is required"
    assert details["email[1]"].startswith("'nope' is not a valid email address")
    assert details["email[2]"] == "must be a string, not a number"
    with pytest.raises(SubmissionError) as caught:
        parse_upload({"students": [], "email": {"a": 1}})
    assert caught.value.details == {"students": "must contain at least one student",
                                    "email": "must be an array of email addresses, not an object"}


def test_a_utf8_bom_is_accepted_in_bytes():
    [student] = parse_text(b'\xef\xbb\xbf{"student_id": "s", "events": []}')
    assert student.student_id == "s"


# Valid events take a fast path (exact JSON types, a per-upload cache of canonical units, no path
# built); anything else takes the full checks. Both must give the same events and the same errors.

VARIED_EVENTS = [
    {"unit": 17, "type": "ran_tests", "created_time": "2024-07-21 03:04:55.939000+00:00"},
    {"unit": "17"},
    {"unit": " 17 ", "type": None, "created_time": None},
    {"unit": "intro", "type": "", "created_time": "2024-07-21T03:04:55Z", "extra": [1]},
    {"unit": -3, "created_time": "2024-07-21T05:04:55.5+02:00"},
    {"unit": 0, "created_time": " 2024-07-21 03:04:55 "},
    {"unit": "ü", "type": "saved_code", "created_time": "2024-07-21T03:04:55.123456789-04:30"},
    {"unit": 18446744073709551616, "created_time": "2024-07-21"},
]

BAD_EVENTS = [
    7, None, [], "x", {},
    {"unit": True}, {"unit": 1.0}, {"unit": []}, {"unit": {}}, {"unit": ""}, {"unit": "  "}, {"unit": None},
    {"unit": 1, "type": 3}, {"unit": 1, "type": ["a"]},
    {"unit": 1, "created_time": 1721531095}, {"unit": 1, "created_time": "yesterday"},
    {"unit": 1, "created_time": ""}, {"unit": 1, "created_time": "2024-13-01"}, {"unit": 1, "created_time": {}},
    {"unit": False, "type": 2, "created_time": "nope"},
]


def _reference(raw_events: list, prefix: str = "events") -> tuple[list, dict]:
    """What the full per-event checks alone give."""
    from reportgen.domain.submission import _parse_event

    errors: dict[str, str] = {}
    events = [_parse_event(raw, f"{prefix}[{index}]", index, errors) for index, raw in enumerate(raw_events)]
    return [event for event in events if event is not None], errors


def test_valid_events_are_the_same_as_the_full_checks_make():
    from reportgen.domain.submission import Event

    raw_events = VARIED_EVENTS * 3
    [student] = parse_submission({"student_id": "s", "events": raw_events})
    expected, errors = _reference(raw_events)
    assert errors == {}
    assert list(student.events) == expected
    assert [type(event) for event in student.events] == [Event] * len(raw_events)
    assert student.events[7].unit == "18446744073709551616"
    assert student.events[2] == Event(unit="17", type=None, created_at=None, index=2)
    assert hash(student.events[2]) == hash(Event(unit="17", type=None, created_at=None, index=2))
    with pytest.raises(AttributeError):
        student.events[0].unit = "other"


def test_invalid_events_get_the_same_errors_in_the_same_order():
    mixed = [event for pair in zip(VARIED_EVENTS * 3, BAD_EVENTS) for event in pair] + BAD_EVENTS
    details = details_of([{"student_id": "a", "events": VARIED_EVENTS},
                          {"student_id": "b", "events": mixed}])
    _, expected = _reference(mixed, "[1].events")
    assert list(details.items()) == list(expected.items())
    assert details["[1].events[11].unit"] == "must be a non-empty string or an integer, not a boolean"


def test_the_unit_cache_never_mixes_types():
    """1, "1", " 1 " and True are different raw units; a boolean is never the integer 1."""
    events = [{"unit": 1}, {"unit": "1"}, {"unit": " 1 "}, {"unit": 1}, {"unit": True}, {"unit": 1.0}]
    details = details_of([{"student_id": "a", "events": events[:4]}, {"student_id": "b", "events": events}])
    assert details == {"[1].events[4].unit": "must be a non-empty string or an integer, not a boolean",
                       "[1].events[5].unit": "must be a non-empty string or an integer, not a number"}
    [a, b] = parse_submission([{"student_id": "a", "events": events[:4]},
                               {"student_id": "b", "events": events[:4]}])
    assert [e.unit for e in a.events + b.events] == ["1"] * 8


def test_types_that_json_never_gives_take_the_full_checks():
    from collections import OrderedDict

    class Text(str):
        pass

    raw_events = [OrderedDict(unit=1), {"unit": Text("u"), "type": Text("t"), "created_time": Text("2024-07-21")}]
    [student] = parse_submission({"student_id": "s", "events": raw_events})
    assert list(student.events) == _reference(raw_events)[0]


@pytest.mark.parametrize("enabled", [True, False])
def test_validation_leaves_the_garbage_collector_as_it_found_it(enabled):
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        parse_submission({"student_id": "s", "events": VARIED_EVENTS})
        with pytest.raises(SubmissionError):
            parse_submission({"student_id": "s", "events": BAD_EVENTS})
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_threads_validating_at_once_leave_the_collector_on(monkeypatch):
    """The pause is shared: the last thread out resumes collection, and runs one full collection
    when enough was built (here: anything) instead of leaving it to three later ones."""
    import gc
    import threading

    from reportgen.domain import submission

    collections = []
    monkeypatch.setattr(submission, "_COLLECT_AFTER", -1)
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args))
    start = threading.Barrier(4)

    def validate():
        start.wait()
        for _ in range(50):
            parse_submission({"student_id": "s", "events": VARIED_EVENTS})

    assert gc.isenabled()
    threads = [threading.Thread(target=validate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gc.isenabled()
    assert collections and all(args == () for args in collections)
