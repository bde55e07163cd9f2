"""Report options: validation with exact paths, the window's edges, the ``units`` label order."""
from datetime import datetime, timedelta, timezone

import pytest

from reportgen.domain.options import (DEFAULT_OPTIONS, ReportOptions, Window, apply_window, options_from_dict,
                                      parse_options)
from reportgen.domain.sequencing import sequence_students, unit_labels
from reportgen.domain.submission import SubmissionError, parse_submission
from reportgen.domain.upload import Upload, parse_upload

UTC = timezone.utc


def errors_of(raw) -> dict[str, str]:
    errors: dict[str, str] = {}
    parse_options(raw, errors)
    return errors


def window_of(**bounds) -> Window:
    errors: dict[str, str] = {}
    options = parse_options({"window": bounds}, errors)
    assert errors == {}
    return options.window


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# ── parsing ────────────────────────────────────────────────────────────────────


def test_no_options_and_null_options_are_the_defaults():
    assert parse_options(None, {}) is DEFAULT_OPTIONS
    assert parse_options({}, {}) == DEFAULT_OPTIONS
    assert DEFAULT_OPTIONS.is_default
    assert (DEFAULT_OPTIONS.event_log, DEFAULT_OPTIONS.idle_cutoff_minutes) == (False, 30)
    assert (DEFAULT_OPTIONS.units, DEFAULT_OPTIONS.window) == ({}, None)
    assert parse_options({"event_log": None, "idle_cutoff_minutes": None, "units": None, "window": None}, {}).is_default


def test_every_option_is_read():
    errors: dict[str, str] = {}
    options = parse_options({
        "event_log": True,
        "idle_cutoff_minutes": 1440,
        "units": {"python-101": [7, " 3 ", "intro"], "": [1]},
        "window": {"from": "2024-07-01", "to": "2024-07-31T18:00:00+02:00"},
    }, errors)
    assert errors == {}
    assert options.event_log is True
    assert options.idle_cutoff_minutes == 1440
    assert options.units == {"python-101": ("7", "3", "intro"), "": ("1",)}
    assert options.window == Window(start=at("2024-07-01T00:00:00+00:00"), end=at("2024-07-31T16:00:00.000001+00:00"))
    assert not options.is_default
    assert hash(options) == hash(ReportOptions(True, 1440, {}, options.window))


def test_to_dict_is_normalised_and_round_trips():
    options = options_from_dict({
        "event_log": True,
        "idle_cutoff_minutes": 45,
        "units": {"n": [5, "a"]},
        "window": {"from": "2024-07-01T10:00:00+02:00", "to": "2024-07-31"},
        "timezone": " Asia/Kolkata ",
    })
    assert options.to_dict() == {
        "event_log": True,
        "idle_cutoff_minutes": 45,
        "units": {"n": ["5", "a"]},
        "window": {"from": "2024-07-01T08:00:00Z", "to": "2024-07-31"},
        "unit_names": {},
        "student_names": {},
        "timezone": "Asia/Kolkata",
    }
    assert options_from_dict(options.to_dict()) == options
    assert DEFAULT_OPTIONS.to_dict() == {"event_log": False, "idle_cutoff_minutes": 30, "units": {}, "window": None,
                                         "unit_names": {}, "student_names": {}, "timezone": None}
    assert options_from_dict({"timezone": "UTC"}) == DEFAULT_OPTIONS  # UTC is the default, not an option
    assert options_from_dict(DEFAULT_OPTIONS.to_dict()) == DEFAULT_OPTIONS
    assert options_from_dict(None) is DEFAULT_OPTIONS


def test_options_from_dict_refuses_invalid_stored_options():
    with pytest.raises(SubmissionError) as caught:
        options_from_dict({"idle_cutoff_minutes": 0})
    assert caught.value.message == "invalid options: 1 problem"
    assert caught.value.details == {"options.idle_cutoff_minutes": "must be an integer from 1 to 1440, not 0"}


@pytest.mark.parametrize("raw, path, reason", [
    ([], "options", "must be an object, not an array"),
    ({"event_log": "yes"}, "options.event_log", "must be true or false, not a string"),
    ({"event_log": 1}, "options.event_log", "must be true or false, not a number"),
    ({"idle_cutoff_minutes": True}, "options.idle_cutoff_minutes", "must be an integer from 1 to 1440, not a boolean"),
    ({"idle_cutoff_minutes": 0}, "options.idle_cutoff_minutes", "must be an integer from 1 to 1440, not 0"),
    ({"idle_cutoff_minutes": 1441}, "options.idle_cutoff_minutes", "must be an integer from 1 to 1440, not 1441"),
    ({"idle_cutoff_minutes": 30.0}, "options.idle_cutoff_minutes", "must be an integer from 1 to 1440, not 30.0"),
    ({"idle_cutoff_minutes": "30"}, "options.idle_cutoff_minutes", "must be an integer from 1 to 1440, not a string"),
    ({"colour": "red"}, "options.colour",
     "unknown option 'colour'; known options are event_log, idle_cutoff_minutes, units, window, "
     "unit_names, student_names, timezone"),
    ({"units": [1, 2]}, "options.units", "must be an object mapping a namespace to its units, not an array"),
    ({"units": {"python-101": []}}, "options.units.python-101", "must list at least one unit"),
    ({"units": {"python-101": 5}}, "options.units.python-101", "must be an array of units, not a number"),
    ({"units": {"": []}}, 'options.units.""', "must list at least one unit"),
    ({"units": {"python-101": [1, 2, 1.5]}}, "options.units.python-101[2]",
     "must be a non-empty string or an integer, not a number"),
    ({"units": {"python-101": [1, " "]}}, "options.units.python-101[1]",
     "must be a non-empty string or an integer, not a string"),
    ({"units": {"python-101": [5, 6, "5"]}}, "options.units.python-101[2]",
     "duplicates options.units.python-101[0] (unit 5); list each unit once"),
    ({"window": "july"}, "options.window", 'must be an object with "from", "to" or both, not a string'),
    ({"window": {}}, "options.window", 'must have "from", "to" or both'),
    ({"window": {"from": "2024-07-05", "to": "2024-07-01"}}, "options.window",
     '"from" (2024-07-05) must not be after "to" (2024-07-01)'),
    ({"window": {"from": "2024-07-01T12:00:01Z", "to": "2024-07-01T12:00:00Z"}}, "options.window",
     '"from" (2024-07-01T12:00:01Z) must not be after "to" (2024-07-01T12:00:00Z)'),
    ({"window": {"from": "2024-07-02", "to": "2024-07-01T23:59:59"}}, "options.window",
     '"from" (2024-07-02) must not be after "to" (2024-07-01T23:59:59)'),
    ({"window": {"from": "2024-07-02", "to": "2024-07-01T23:59:59.999999Z"}}, "options.window",
     '"from" (2024-07-02) must not be after "to" (2024-07-01T23:59:59.999999Z)'),
    ({"window": {"from": "2024-02-30"}}, "options.window.from",
     "'2024-02-30' is not an ISO 8601 date or date-time (e.g. 2024-07-01 or 2024-07-01T08:00:00Z)"),
    ({"window": {"to": "last week"}}, "options.window.to",
     "'last week' is not an ISO 8601 date or date-time (e.g. 2024-07-01 or 2024-07-01T08:00:00Z)"),
    ({"window": {"to": 20240701}}, "options.window.to", "must be an ISO 8601 date or date-time string, not a number"),
    ({"window": {"to": "9999-12-31"}}, "options.window.to", "'9999-12-31' is out of range"),
    ({"timezone": "Mars/Olympus_Mons"}, "options.timezone",
     "'Mars/Olympus_Mons' is not an IANA time zone such as Europe/Berlin, America/New_York or UTC"),
    ({"timezone": "../../etc/passwd"}, "options.timezone",
     "'../../etc/passwd' is not an IANA time zone such as Europe/Berlin, America/New_York or UTC"),
    ({"timezone": "europe/berlin"}, "options.timezone",
     "'europe/berlin' is not an IANA time zone such as Europe/Berlin, America/New_York or UTC"),
    ({"timezone": 2}, "options.timezone",
     "must be an IANA time zone such as Europe/Berlin, America/New_York or UTC, not a number"),
])
def test_each_rule_names_its_path(raw, path, reason):
    assert errors_of(raw) == {path: reason}


def test_unknown_window_key_is_named_with_the_known_ones():
    assert errors_of({"window": {"from": "2024-07-01", "until": "2024-07-02"}}) == {
        "options.window.until": "unknown key 'until'; known keys are from, to",
    }


def test_all_option_problems_are_collected_at_once():
    assert errors_of({
        "event_log": "no", "idle_cutoff_minutes": False, "units": {"a": [1, 1]},
        "window": {"from": "x"}, "extra": 1,
    }) == {
        "options.extra": "unknown option 'extra'; known options are event_log, idle_cutoff_minutes, units, window, "
                         "unit_names, student_names, timezone",
        "options.event_log": "must be true or false, not a string",
        "options.idle_cutoff_minutes": "must be an integer from 1 to 1440, not a boolean",
        "options.units.a[1]": "duplicates options.units.a[0] (unit 1); list each unit once",
        "options.window.from":
            "'x' is not an ISO 8601 date or date-time (e.g. 2024-07-01 or 2024-07-01T08:00:00Z)",
    }


# ── the window ─────────────────────────────────────────────────────────────────


def test_a_date_window_covers_whole_utc_days():
    window = window_of(**{"from": "2024-07-01", "to": "2024-07-31"})
    assert window.start == datetime(2024, 7, 1, tzinfo=UTC)
    assert window.end == datetime(2024, 8, 1, tzinfo=UTC)
    assert not window.contains(at("2024-06-30T23:59:59.999999+00:00"))
    assert window.contains(at("2024-07-01T00:00:00+00:00"))
    assert window.contains(at("2024-07-31T23:59:59.999000+00:00"))
    assert window.contains(at("2024-07-31T23:59:59.999999+00:00"))
    assert not window.contains(at("2024-08-01T00:00:00+00:00"))
    assert not window.contains(None)
    assert window.describe() == "2024-07-01 to 2024-07-31 (UTC)"


def test_date_time_bounds_are_inclusive_and_offsets_honoured():
    window = window_of(**{"from": "2024-07-01T10:00:00+02:00", "to": "2024-07-01 12:30:00"})
    assert window.contains(at("2024-07-01T08:00:00+00:00"))
    assert not window.contains(at("2024-07-01T07:59:59.999999+00:00"))
    assert window.contains(at("2024-07-01T12:30:00+00:00"))
    assert window.contains(at("2024-07-01T14:30:00+02:00"))
    assert not window.contains(at("2024-07-01T12:30:00.000001+00:00"))
    assert window.describe() == "2024-07-01 08:00:00 to 2024-07-01 12:30:00 (UTC)"
    assert window.to_dict() == {"from": "2024-07-01T08:00:00Z", "to": "2024-07-01T12:30:00Z"}


def test_one_instant_window_and_open_ends():
    instant = window_of(**{"from": "2024-07-01T08:00:00Z", "to": "2024-07-01T08:00:00Z"})
    assert instant.contains(at("2024-07-01T08:00:00+00:00"))
    assert not instant.contains(at("2024-07-01T08:00:00.000001+00:00"))
    only_from = window_of(**{"from": "2024-07-01"})
    assert (only_from.end, only_from.describe()) == (None, "from 2024-07-01 (UTC)")
    assert only_from.contains(at("2999-01-01T00:00:00+00:00"))
    only_to = window_of(to="2024-07-31")
    assert (only_to.start, only_to.describe()) == (None, "through 2024-07-31 (UTC)")
    assert only_to.to_dict() == {"from": None, "to": "2024-07-31"}
    assert window_of(to="2024-07-31T23:59:59.999999Z") == only_to


def test_apply_window_keeps_every_student_and_counts_what_it_left_out():
    students = parse_submission([
        {"student_id": "a", "events": [
            {"unit": 1, "created_time": "2024-06-30T23:59:59Z"},
            {"unit": 2, "created_time": "2024-07-01T00:00:00Z"},
            {"unit": 3},
            {"unit": 4, "created_time": "2024-07-02T00:00:00Z"},
        ]},
        {"student_id": "b", "events": [{"unit": 1, "created_time": "2024-07-01T12:00:00Z"}]},
        {"student_id": "c", "events": [{"unit": 1, "created_time": "2024-08-01T00:00:00Z"}]},
    ])
    window = window_of(**{"from": "2024-07-01", "to": "2024-07-01"})
    kept, left_out = apply_window(students, window)
    assert left_out == 4
    assert [s.student_id for s in kept] == ["a", "b", "c"]
    assert [[e.unit for e in s.events] for s in kept] == [["2"], ["1"], []]
    assert kept[1] is students[1]
    assert apply_window(students, None) == (students, 0)


# ── label order ────────────────────────────────────────────────────────────────


def test_listed_units_keep_their_numbers_and_the_others_follow():
    students = parse_submission([
        {"student_id": "a", "namespace": "n", "events": [{"unit": u} for u in (30, 10, "x", 7, 2)]},
        {"student_id": "b", "namespace": "m", "events": [{"unit": u} for u in (2, 1)]},
    ])
    labels = unit_labels(students, {"n": ("7", "99", "x")})
    assert labels["n"] == {"7": "Q1", "x": "Q3", "2": "Q4", "10": "Q5", "30": "Q6"}
    assert list(labels["n"].values()) == ["Q1", "Q3", "Q4", "Q5", "Q6"]
    assert labels["m"] == {"1": "Q1", "2": "Q2"}
    assert unit_labels(students) == unit_labels(students, {}) == unit_labels(students, None)
    assert unit_labels(students)["n"] == {"2": "Q1", "7": "Q2", "10": "Q3", "30": "Q4", "x": "Q5"}
    _, [sequence, _] = sequence_students(students, order={"n": ("7", "99", "x")})
    assert sequence.labels == ["Q6", "Q5", "Q3", "Q1", "Q4"]


# ── in an upload ───────────────────────────────────────────────────────────────


def test_an_envelope_carries_options_and_a_bare_submission_has_the_defaults():
    upload = parse_upload({
        "students": [{"student_id": "a", "events": []}],
        "options": {"event_log": True, "units": {"": [3]}},
    })
    assert upload.options == ReportOptions(event_log=True, units={"": ("3",)})
    assert parse_upload({"students": [{"student_id": "a", "events": []}]}).options is DEFAULT_OPTIONS
    assert parse_upload({"student_id": "a", "events": [], "options": {"event_log": "x"}}).options is DEFAULT_OPTIONS
    assert Upload(students=[]).options is DEFAULT_OPTIONS


def test_option_problems_are_reported_with_student_and_email_problems():
    with pytest.raises(SubmissionError) as caught:
        parse_upload({
            "students": [{"student_id": "a", "events": [{}]}],
            "email": ["nope"],
            "options": {"idle_cutoff_minutes": 0, "window": {"from": "2024-07-05", "to": "2024-07-01"}},
        })
    details = caught.value.details
    assert caught.value.message == "invalid submission: 4 problems"
    assert list(details) == [
        "students[0].events[0].unit", "options.idle_cutoff_minutes", "options.window", "email[0]",
    ]
    assert details["students[0].events[0].unit"] == "is required"
    assert details["options.idle_cutoff_minutes"] == "must be an integer from 1 to 1440, not 0"
    assert details["options.window"] == '"from" (2024-07-05) must not be after "to" (2024-07-01)'
    assert details["email[0]"].startswith("'nope' is not a valid email address")


def test_options_that_are_not_an_object_are_an_upload_problem():
    with pytest.raises(SubmissionError) as caught:
        parse_upload({"students": [{"student_id": "a", "events": []}], "options": "all"})
    assert caught.value.details == {"options": "must be an object, not a string"}


def test_a_date_time_from_at_utc_midnight_is_the_same_window_as_the_date():
    # a date-time 'from' at midnight UTC selects exactly what the date does, so they are equal
    assert window_of(**{"from": "2024-07-01T02:00:00+02:00"}) == window_of(**{"from": "2024-07-01"})
    assert window_of(**{"from": "2024-07-01"}).start - timedelta(microseconds=1) == at("2024-06-30T23:59:59.999999+00:00")


def test_unit_and_student_names_are_kept_per_namespace_and_round_trip():
    options = parse_options({"unit_names": {"n": {" 17 ": "Week 3 quiz", "intro": " Intro "}},
                             "student_names": {"n": {"s-1": "أميرة حداد"}}}, errors := {})
    assert not errors
    assert options.unit_names == {"n": {"17": "Week 3 quiz", "intro": "Intro"}}
    assert (options.unit_name("n", "17"), options.unit_name("m", "17")) == ("Week 3 quiz", "")
    assert options.student_name("n", "s-1") == "أميرة حداد"
    assert options_from_dict(options.to_dict()) == options


@pytest.mark.parametrize("raw, path, reason", [
    ({"unit_names": ["x"]}, "options.unit_names",
     "must be an object mapping a namespace to its units and their names, not an array"),
    ({"unit_names": {"n": "x"}}, "options.unit_names.n", "must be an object mapping units to their names, not a string"),
    ({"student_names": {"n": {"s": 5}}}, "options.student_names.n.s", "must be a non-empty string, not a number"),
    ({"unit_names": {"n": {"1": "x" * 201}}}, "options.unit_names.n.1", "must be at most 200 characters"),
    ({"unit_names": {"n": {"1": "a\u0000"}}}, "options.unit_names.n.1",
     "contains a NUL character (\\u0000), which cannot be stored; remove it"),
])
def test_bad_names_are_named_by_their_path(raw, path, reason):
    errors = {}
    parse_options(raw, errors)
    assert errors == {path: reason}
