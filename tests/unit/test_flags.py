"""Flags and Needs attention: each rule on a hand-made class, then on whole synthetic classes
where we know which students a teacher would look at."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.synthetic import KINDS, make_students, mixed_class, sample_shape
from reportgen.domain.analytics import FLAG_NAMES, FLAG_RULES, MIN_COHORT, analyse
from reportgen.domain.submission import loads, parse_submission

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 7, 1, 9, 0, tzinfo=timezone.utc)


def work(sid: str, units=range(1, 7), minutes: float = 10, returns: dict | None = None, saves: int = 3,
         day: float = 0) -> dict:
    """A student who does ``units`` in order, ``saves`` saves then a submission on each, one
    event every ``minutes / (saves + 1)`` minutes; ``returns`` maps a unit to how many times
    the student goes back to it (a look at it and one back at the last unit) after the last unit."""
    step = timedelta(minutes=minutes / (saves + 1))
    moment = T0 + timedelta(days=day)
    events = []
    for unit in units:
        for kind in ["save"] * saves + ["submission"]:
            events.append({"unit": unit, "type": kind, "created_time": moment.isoformat()})
            moment += step
    last = list(units)[-1]
    for unit, count in (returns or {}).items():
        for _ in range(count):
            for visit in (unit, last):
                events.append({"unit": visit, "type": "viewed", "created_time": moment.isoformat()})
                moment += step
    return {"student_id": sid, "namespace": "n", "events": events}


def steady(count: int = 9) -> list[dict]:
    """A class of ``count`` students alike but for small differences in pace."""
    return [work(f"s{i}", minutes=9 + i % 4) for i in range(count)]


def flags(students: list[dict]) -> dict[str, list[str]]:
    """Student id → flag codes, for the flagged ones."""
    upload = analyse(parse_submission(students))
    return {s.student_id: [flag.code for flag in s.flags] for s in upload.students if s.flags}


def test_a_class_of_alike_students_has_no_flags():
    assert flags(steady()) == {}


def test_kept_going_back_to_a_unit_is_a_flag_and_says_where_and_how_often():
    upload = analyse(parse_submission([*steady(), work("back", returns={2: 9})]))
    student = upload.student("n", "back")
    assert [flag.code for flag in student.flags] == ["returned"]
    assert student.flags[0].text == (
        "Returned to Q2 (unit 2) 9 times (classmates' most-revisited unit: median 0)")
    assert flags([*steady(), work("back", returns={2: 2})]) == {}  # under the floor of 3


def test_many_saves_compares_a_unit_with_the_class_on_that_unit():
    upload = analyse(parse_submission([*steady(), work("saver", saves=30)]))
    student = upload.student("n", "saver")
    assert "many_saves" in [flag.code for flag in student.flags]
    text = next(flag.text for flag in student.flags if flag.code == "many_saves")
    assert text.startswith("30 saves for 1 submission on Q1 (unit 1): ")
    assert "the class's saves per submission there" in text
    assert flags([*steady(), work("few", saves=9)]) == {}  # fewer than 10 saves is never a flag


def test_quick_clean_work_is_never_a_flag():
    quick = work("quick", minutes=1)  # every unit, no returns, a tenth of the time
    assert flags([*steady(), quick]) == {}


def test_barely_starting_is_behind_the_class():
    upload = analyse(parse_submission([*steady(), work("starter", units=[1], minutes=2)]))
    student = upload.student("n", "starter")
    assert [flag.code for flag in student.flags] == ["behind"]
    assert student.flags[0].text.startswith("Reached 1 unit with ")
    assert "(class median: 6 units, " in student.flags[0].text


def test_fewer_units_in_little_time_is_behind_but_fewer_units_at_the_usual_pace_is_not():
    assert flags([*steady(), work("thin", units=range(1, 5), minutes=1)]) == {"thin": ["behind"]}
    assert flags([*steady(), work("fine", units=range(1, 5), minutes=12)]) == {}


def test_far_more_time_and_a_late_start_are_flags():
    assert flags([*steady(), work("slow", minutes=60)]) == {"slow": ["long_time"]}
    late = analyse(parse_submission([*steady(), work("late", day=9)])).student("n", "late")
    assert [flag.code for flag in late.flags] == ["late_start"]
    assert late.flags[0].text.startswith("Started 9 d ")
    assert flags([*steady(), work("hours", day=0.5)]) == {}  # half a day is not late


def test_far_more_time_than_a_class_whose_median_time_on_task_is_zero_is_said_without_a_multiple():
    # six students an hour between events (no time on task: every gap is past the idle cutoff),
    # four at the usual pace, one at it for hours; this took a submit down with a 500 before
    idle = [work(f"idle{i}", minutes=240) for i in range(6)]
    usual = [work(f"usual{i}", minutes=9 + i) for i in range(4)]
    upload = analyse(parse_submission([*idle, *usual, work("hours", minutes=60)]))
    student = upload.student("n", "hours")
    assert [flag.text for flag in student.flags] == ["5 h 45 min on task (class median: 0 min)"]
    assert [flag.code for flag in student.flags] == ["long_time"]


def test_reasons_come_farthest_first_and_distance_orders_students():
    upload = analyse(parse_submission([*steady(), work("one", returns={2: 4}),
                                       work("two", returns={3: 12}, day=9)]))
    one, two = upload.student("n", "one"), upload.student("n", "two")
    assert two.distance > one.distance >= 1
    assert [flag.code for flag in two.flags] == ["late_start", "returned"]  # 9 days late: 9× its threshold
    assert all(s.distance < 1 for s in upload.students if not s.flags)


def test_small_classes_have_no_flags():
    assert MIN_COHORT == 5
    assert flags([*steady(3), work("back", returns={2: 9})]) == {}


def test_every_flag_has_a_rule_and_a_short_name():
    assert set(FLAG_RULES) == {"returned", "many_saves", "behind", "long_time", "late_start"}
    assert set(FLAG_NAMES) == set(FLAG_RULES) | {"went_quiet"}  # .activity raises that one


def test_examples_students_json_flags_at_most_a_quarter_with_reasons():
    students = parse_submission(loads((ROOT / "examples" / "students.json").read_text()))
    upload = analyse(students)
    flagged = [s for s in upload.students if s.flags]
    assert len(flagged) <= len(students) / 4
    assert all(flag.text for s in flagged for flag in s.flags)


@pytest.mark.parametrize("seed", range(1, 6))
def test_the_sample_shape_and_random_classes_flag_at_most_a_quarter(seed):
    for students in (sample_shape(seed=seed), sample_shape(200, 100, seed=seed), make_students(60, 6000, seed=seed)):
        upload = analyse(parse_submission(students))
        assert sum(bool(s.flags) for s in upload.students) <= len(students) / 4


@pytest.mark.parametrize("size", [19, 30, 120])
def test_a_mixed_class_flags_the_students_a_teacher_would_look_at(size):
    """Over 10 seeds: nearly every struggling, barely started or late student, most slow ones,
    no quick and clean one, hardly any steady one; about a quarter of the class."""
    seen: dict[str, list[int]] = {kind: [0, 0] for kind in KINDS}
    for seed in range(1, 11):
        students, kinds = mixed_class(size, seed=seed)
        upload = analyse(parse_submission(students))
        for kind, student in zip(kinds, upload.students):
            seen[kind][0] += bool(student.flags)
            seen[kind][1] += 1
    share = {kind: flagged / total for kind, (flagged, total) in seen.items() if total}
    assert share["struggling"] >= 0.9 and share["barely started"] >= 0.9 and share["late"] >= 0.9
    assert share["slow"] >= 0.5
    assert share["quick"] == 0
    assert share["steady"] <= 0.05
    flagged = sum(flagged for flagged, _ in seen.values())
    assert flagged <= 0.3 * sum(total for _, total in seen.values())
