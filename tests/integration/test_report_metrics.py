"""The figures a teacher reads, end to end: submitted through the API, rendered by a real
RQ worker on PostgreSQL and Redis, then read back from the JSON, the HTML and the PDF."""
from __future__ import annotations

import io
import subprocess

import pdfplumber
import pytest

from ..support.api import post_json, submit
from ..support.payloads import event, student
from ..support.processes import ROOT, WORKER_COMMAND, worker_env


def returning_student() -> dict:
    """Unit 7 → 9 → 7 → 9 → 7 within one sitting: unit 7 has 3 visits (2 revisits)."""
    times = ["2024-07-01T10:00:00Z", "2024-07-01T10:05:00Z", "2024-07-01T10:10:00Z", "2024-07-01T10:12:00Z",
             "2024-07-01T10:20:00Z", "2024-07-01T12:00:00Z"]
    units = ["7", "7", "9", "7", "9", "7"]
    types = ["saved_code", "submission", "saved_code", "saved_code", "submission", "saved_code"]
    return student("ret-1", [event(unit, when, kind) for unit, when, kind in zip(units, times, types)], "course")


def straight_student() -> dict:
    return student("straight-2", [event("7", "2024-07-02T09:00:00Z"), event("9", "2024-07-02T09:10:00Z")], "course")


def pdf_text(content: bytes) -> str:
    with pdfplumber.open(io.BytesIO(content)) as document:
        return "\n".join(page.extract_text() for page in document.pages)


def test_metadata_html_and_pdf_carry_the_same_metrics(client, run_worker):
    students = [returning_student(), straight_student()]
    html_id = submit(client, "html", students)
    pdf_id = submit(client, "pdf", students, options={"idle_cutoff_minutes": 30})
    run_worker()

    metadata = client.get(f"/assignment/pdf/{pdf_id}", headers={"Accept": "application/json"}).get_json()
    first = metadata["students"][0]
    assert first["student_id"] == "ret-1"
    metrics = first["metrics"]
    # 10:00→10:05 (5 min, Q1), →10:10 (5, Q2), →10:12 (2, Q1), →10:20 (8, Q2), →12:00 (100 min gap: a break)
    assert metrics["time_on_task_seconds"] == 20 * 60
    assert metrics["revisits"] == 3
    assert metrics["sequence_compressed"] == "Q1×2 → Q2 → Q1 → Q2 → Q1"
    units = {unit["unit"]: unit for unit in metrics["units"]}
    assert units["7"] | {"first": None, "last": None} == {
        "label": "Q1", "unit": "7", "events": 4, "types": {"saved_code": 3, "submission": 1}, "visits": 3,
        "revisits": 2, "time_on_task_seconds": 7 * 60, "first": None, "last": None}
    assert units["7"]["first"] == "2024-07-01T10:00:00Z" and units["7"]["last"] == "2024-07-01T12:00:00Z"
    assert metadata["cohort"]["course"]["students"] == 2
    assert metadata["cohort"]["course"]["revisits"] == {"p15": 0.45, "median": 1.5, "p85": 2.55}
    assert metadata["options"]["idle_cutoff_minutes"] == 30
    assert metadata["warnings"] == []

    html = client.get(f"/assignment/html/{html_id}").get_data(as_text=True)
    assert "Q1×2 → Q2 → Q1 → Q2 → Q1" in html
    assert "<b>20 min</b> on task" in html
    pdf = client.get(f"/assignment/pdf/{pdf_id}").data
    text = pdf_text(pdf)
    assert "Q1×2 → Q2 → Q1 → Q2 → Q1" in text
    assert "20 min on task" in text
    assert "How to read this report" in text


def test_a_pdf_students_own_download_is_their_pages_only(client, run_worker):
    task_id = submit(client, "pdf", [returning_student(), straight_student()])
    run_worker()
    status = client.get(f"/assignment/pdf/{task_id}").status_code
    assert status == 200
    second = client.get(f"/assignment/pdf/{task_id}/students/1")
    assert second.status_code == 200 and second.mimetype == "application/pdf"
    text = pdf_text(second.data)
    assert "straight-2" in text and "ret-1" not in text
    again = client.get(f"/assignment/pdf/{task_id}/students/1", headers={"If-None-Match": second.headers["ETag"]})
    assert again.status_code == 304


def test_the_event_log_and_window_options_shape_the_pdf(client, run_worker):
    options = {"event_log": True, "window": {"from": "2024-07-01", "to": "2024-07-01"}}
    task_id = submit(client, "pdf", [returning_student(), straight_student()], options=options)
    run_worker()
    text = pdf_text(client.get(f"/assignment/pdf/{task_id}").data)
    assert "Appendix: event log" in text
    assert "Window: 2024-07-01 to 2024-07-01 (UTC); 2 events outside it left out" in text
    body = client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert body["events_left_out"] == 2
    assert body["students"][1]["metrics"]["events"] == 0


def test_unit_order_fixes_the_labels(client):
    body = {"students": [straight_student()], "options": {"units": {"course": ["9", "7"]}}}
    response = post_json(client, "/assignment/sequence?metrics=1", body)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["namespaces"]["course"]["units"] == {"Q1": "9", "Q2": "7"}
    assert answer["students"][0]["sequence"] == ["Q2", "Q1"]
    assert answer["students"][0]["metrics"]["time_on_task_seconds"] == 600
    assert answer["cohort"]["course"]["students"] == 1


@pytest.mark.parametrize("options, path", [
    ({"idle_cutoff_minutes": 0}, "options.idle_cutoff_minutes"),
    ({"idle_cutoff_minutes": True}, "options.idle_cutoff_minutes"),
    ({"window": {"from": "2024-07-31", "to": "2024-07-01"}}, "options.window"),
    ({"window": {"from": "July"}}, "options.window.from"),
    ({"units": {"course": []}}, "options.units.course"),
    ({"colour": "red"}, "options.colour"),
    ({"event_log": "yes"}, "options.event_log"),
    ({"timezone": "Mars/Olympus_Mons"}, "options.timezone"),
    ({"timezone": ["Europe/Berlin"]}, "options.timezone"),
])
def test_bad_options_are_a_400_naming_the_field_and_store_nothing(client, app, options, path):
    from sqlalchemy import func, select

    from reportgen.extensions import db
    from reportgen.models import Report

    response = post_json(client, "/assignment/pdf", {"students": [straight_student()], "options": options})
    assert response.status_code == 400
    assert path in response.get_json()["details"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_characters_no_font_draws_are_a_warning_not_a_silent_done(client, run_worker):
    task_id = submit(client, "pdf", [student("rare-\U0002A6D6-\U00020000", [event("1")], "course")])
    status = client.get(f"/assignment/pdf/{task_id}").get_json()
    assert status["warnings"] and "U+2A6D6" in status["warnings"][0] and "U+20000" in status["warnings"][0]
    run_worker()
    done = client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert done["status"] == "SUCCESS" and done["warnings"] == status["warnings"]


def test_a_name_or_unit_in_a_script_no_bundled_font_covers_is_a_warning(client):
    ethiopic, tibetan = "ሰላም", "བོད"
    task_id = submit(client, "pdf", [student(ethiopic, [event(tibetan, "2024-07-01T10:00:00Z")], "course")])
    [warning] = client.get(f"/assignment/pdf/{task_id}").get_json()["warnings"]
    for char in ethiopic + tibetan:
        assert f"U+{ord(char):04X}" in warning


def test_a_pdf_of_several_chunks_puts_needs_attention_and_the_units_on_its_class_page(client, run_worker):
    """Two chunks of 50 and 10 students: the class page is made at assembly, from the figures
    stored per student, and still lists who needs attention and the class's units."""
    from bench.synthetic import mixed_class

    students, _ = mixed_class(60, seed=6)
    task_id = submit(client, "pdf", students)
    run_worker()
    metadata = client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
    flagged = [s for s in metadata["students"] if s["metrics"]["flags"]]
    assert 0 < len(flagged) <= 0.3 * len(students)
    with pdfplumber.open(io.BytesIO(client.get(f"/assignment/pdf/{task_id}").data)) as document:
        text = " ".join(page.extract_text() for page in document.pages[:4]).replace("\n", " ")
    assert f"Needs attention ({len(flagged)} of 60 students)" in text
    for entry in flagged:
        assert f"#{metadata['students'].index(entry) + 1} " in text
    hardest = metadata["cohort"]["ns_example"]["hardest_unit"]
    assert f"Hardest unit: {hardest['label']} (unit {hardest['unit']})" in text
    assert "Time on task by unit" in text and "Units of the class" in text


def spaced_student(student_id: str, minutes: int, count: int = 24) -> dict:
    """``count`` events on units 1–6, ``minutes`` apart from 09:00 on 1 July 2024."""
    return student(student_id, [event(str(1 + number * 6 // count), f"2024-07-01T{9 + number * minutes // 60:02d}:"
                                                                    f"{number * minutes % 60:02d}:00Z")
                                for number in range(count)], "course")


def test_a_student_far_over_a_class_that_mostly_has_no_time_on_task_is_flagged_not_a_500(any_database_app, tmp_path):
    """Six students an hour between events (every gap past the idle cutoff: no time on task), so
    the class's median is 0, and one at it for hours: the submit once divided by that median."""
    client = any_database_app.test_client()
    students = [*(spaced_student(f"idle-{number}", 60, count=12) for number in range(6)),
                *(spaced_student(f"usual-{number}", 2 + number) for number in range(4)),
                spaced_student("hours", 15)]
    task_id = submit(client, "pdf", students)
    subprocess.run([*WORKER_COMMAND, "--burst"], cwd=ROOT, env=worker_env(any_database_app.config, tmp_path),
                   check=True, capture_output=True, timeout=180)
    metadata = client.get(f"/assignment/pdf/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert metadata["status"] == "SUCCESS"
    flags = {entry["student_id"]: [flag["text"] for flag in entry["metrics"]["flags"]] for entry in metadata["students"]}
    assert flags["hours"] == ["5 h 45 min on task (class median: 0 min)"]
    assert metadata["cohort"]["course"]["time_on_task_seconds"]["median"] == 0
    text = " ".join(pdf_text(client.get(f"/assignment/pdf/{task_id}").data).split())
    assert "5 h 45 min on task (class median: 0 min)" in text
