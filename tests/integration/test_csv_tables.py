"""The summary spreadsheets end to end: a CSV report rendered by a real RQ worker on
PostgreSQL and Redis, its students and units tables downloaded and read back with Python's
csv module, as a teacher's spreadsheet would; and the status page offering them."""
import codecs
import csv
import io
import json

from bench.synthetic import mixed_class
from reportgen.domain.csv_export import STUDENT_HEADER, UNIT_HEADER

from ..support.api import submit
from ..support.database import all_reports
from ..support.pages import submit_form
from ..support.payloads import event, student

BOM = codecs.BOM_UTF8


def read(data: bytes) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    rows = list(reader)
    return reader.fieldnames, rows


def test_the_students_and_units_tables_round_trip_through_the_csv_module(client, run_worker):
    students, kinds = mixed_class(30, seed=3)
    students[0]["student_id"] = "=cmd|' /C calc'!A0"
    task_id = submit(client, "csv", students, options={"timezone": "Europe/Berlin"})
    run_worker()

    response = client.get(f"/assignment/csv/{task_id}?table=students")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"-{task_id[:8]}-students.csv" in response.headers["Content-Disposition"]
    header, rows = read(response.data)
    assert tuple(header) == STUDENT_HEADER
    assert [row["number"] for row in rows] == [str(n) for n in range(1, 31)]
    assert rows[0]["student_id"] == "'=cmd|' /C calc'!A0"  # text in a spreadsheet, not a formula
    assert [row["student_id"] for row in rows[1:]] == [s["student_id"] for s in students[1:]]
    assert all(row["first_event"].endswith(("+02:00", "+01:00")) for row in rows)  # the report's zone
    flagged = [row for row in rows if row["flags"]]
    assert 0 < len(flagged) <= 0.3 * len(rows)
    assert all(row["flag_reasons"] for row in flagged)
    metadata = client.get(f"/assignment/csv/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert [row["events"] for row in rows] == [str(s["metrics"]["events"]) for s in metadata["students"]]

    units = client.get(f"/assignment/csv/{task_id}?table=units")
    header, unit_rows = read(units.data)
    assert tuple(header) == UNIT_HEADER
    assert len(unit_rows) == sum(s["metrics"]["unit_count"] for s in metadata["students"])
    assert {row["number"] for row in unit_rows} == {str(n) for n in range(1, 31)}
    assert sum(int(row["events"]) for row in unit_rows) == sum(len(s["events"]) for s in students)

    excel = client.get(f"/assignment/csv/{task_id}?table=units&bom=1")
    assert excel.data == BOM + units.data
    assert "-units-excel.csv" in excel.headers["Content-Disposition"]
    events = client.get(f"/assignment/csv/{task_id}?table=events")
    assert events.data == client.get(f"/assignment/csv/{task_id}").data  # the default stays the event log
    assert events.data.startswith(b"student_id,namespace,position,created_time")


def test_the_excel_csv_says_so_in_its_file_name(client, run_worker):
    task_id = submit(client, "csv", [student("a", [event("1", "2024-07-01T10:00:00Z")])])
    run_worker()
    plain = client.get(f"/assignment/csv/{task_id}").headers["Content-Disposition"]
    excel = client.get(f"/assignment/csv/{task_id}?bom=1").headers["Content-Disposition"]
    assert f"-{task_id[:8]}.csv" in plain and f"-{task_id[:8]}-excel.csv" in excel
    assert "-excel.csv" in client.get(f"/assignment/csv/{task_id}/students/0?bom=1").headers["Content-Disposition"]


def test_a_bad_or_misplaced_table_is_a_400_naming_table(client, run_worker):
    csv_id = submit(client, "csv", [student("a", [event("1", "2024-07-01T10:00:00Z")])])
    pdf_id = submit(client, "pdf", [student("a", [event("1", "2024-07-01T10:00:00Z")])])
    for url in (f"/assignment/csv/{csv_id}?table=grades", f"/assignment/pdf/{pdf_id}?table=students",
                f"/assignment/csv/{csv_id}?table=students&bundle=zip",
                f"/assignment/csv/{csv_id}/students/0?table=units"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "table" in response.get_json()["details"], url


def test_the_status_page_offers_both_tables_and_their_excel_variants(app, client, run_worker):
    response = submit_form(client, text=json.dumps([student("a", [event("1", "2024-07-01T10:00:00Z")])]),
                           formats=["csv"])
    run_worker()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    report = all_reports(app)[0]
    for query in ("table=students", "table=units", "table=students&amp;bom=1", "table=units&amp;bom=1"):
        assert f'href="/assignment/csv/{report.id}?{query}" download>' in page
    assert "Students table" in page and "Units table" in page
