"""Validation rules of the submission format, each with the path a user sees."""
import json
from datetime import timezone

import pytest

from reportgen.domain.submission import (
    MalformedJSON, SubmissionError, parse_submission, parse_text, to_document,
)


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
    ("", 1, 1),
    ('{"student_id": NaN, "events": []}', 1, 1),
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
    from reportgen.domain.submission import parse_upload

    upload = parse_upload({"students": [{"student_id": "a", "events": []}],
                           "email": ["Teacher@Example.org", "teacher@example.org", "b@example.org"]})
    assert [s.student_id for s in upload.students] == ["a"]
    assert upload.recipients == ("Teacher@example.org", "b@example.org")
    assert parse_upload({"student_id": "a", "events": [], "email": "ignored@example.org"}).recipients == ()
    assert parse_upload([{"student_id": "a", "events": []}], ["form@example.org"]).recipients == ("form@example.org",)


def test_envelope_problems_are_reported_with_their_paths_together():
    from reportgen.domain.submission import parse_upload

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
