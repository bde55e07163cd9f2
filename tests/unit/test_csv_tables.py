"""The summary spreadsheets: one row per student and one per student and unit, from the
figures an upload's analysis stores, read back with Python's csv module."""
import csv
import io
from zoneinfo import ZoneInfo

from reportgen.domain.csv_export import STUDENT_HEADER, UNIT_HEADER, render_table
from reportgen.domain.preparation import prepare
from reportgen.domain.submission import parse_submission


def table(name: str, students: list[dict], where=None) -> list[dict]:
    prepared = prepare(parse_submission(students))
    rows = [(number, s.student_id, s.namespace, metrics)
            for number, (s, metrics) in enumerate(zip(prepared.students, prepared.metrics), start=1)]
    data = render_table(name, rows, *([where] if where else []))
    assert data.decode("utf-8").endswith("\r\n")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames) == (STUDENT_HEADER if name == "students" else UNIT_HEADER)
    return list(reader)


def events(*units_and_types) -> list[dict]:
    return [{"unit": unit, "type": kind, "created_time": f"2024-07-01T10:{minute:02d}:00Z"}
            for minute, (unit, kind) in enumerate(units_and_types)]


STUDENTS = [
    {"student_id": "=HYPERLINK(\"http://evil\")", "namespace": "n",
     "events": events((7, "saved_code"), (7, "submission"), (-1, "saved_code"), (7, "saved_code"))},
    {"student_id": "Zoë", "namespace": "n", "events": events((7, "saved_code"))},
]


def test_the_students_table_has_a_row_per_student_with_figures_ranks_and_flags():
    rows = table("students", STUDENTS)
    assert [row["number"] for row in rows] == ["1", "2"]
    first = rows[0]
    assert first["student_id"] == "'=HYPERLINK(\"http://evil\")"  # text, never a formula
    assert (first["events"], first["units_reached"], first["revisits"]) == ("4", "2", "1")
    assert (first["time_on_task_seconds"], first["time_on_task"]) == ("180", "3 min")
    assert first["first_event"] == "2024-07-01T10:00:00.000Z" and first["last_event"] == "2024-07-01T10:03:00.000Z"
    assert (first["events_rank"], first["time_on_task_rank"], first["revisits_rank"]) == ("75", "75", "75")
    assert first["flags"] == "" and first["flag_reasons"] == "" and first["distance_from_class"] == "0.00"


def test_the_units_table_has_a_row_per_student_and_unit_reached():
    rows = table("units", STUDENTS)
    assert [(row["number"], row["label"], row["unit"]) for row in rows] == [
        ("1", "Q1", "'-1"), ("1", "Q2", "7"), ("2", "Q2", "7")]
    seven = rows[1]
    assert (seven["events"], seven["visits"], seven["revisits"], seven["saves"], seven["submissions"]) == (
        "3", "2", "1", "2", "1")
    assert seven["time_on_task_seconds"] == "120" and seven["time_on_task"] == "2 min"
    assert seven["first_touch"] == "2024-07-01T10:00:00.000Z" and seven["last_touch"] == "2024-07-01T10:03:00.000Z"


def test_times_are_in_the_report_zone_with_their_offset():
    rows = table("units", STUDENTS, ZoneInfo("Asia/Kolkata"))
    assert rows[1]["first_touch"] == "2024-07-01T15:30:00.000+05:30"
