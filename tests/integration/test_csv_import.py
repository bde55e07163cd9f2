"""CSV in: the layout reportgen exports, uploaded through the API and the form, validated as
JSON is, with problems named by row and column; and the CSV out "for Excel" (a byte-order mark).

The round trips use real exports: a report rendered by a real worker, downloaded, and uploaded.
"""
import codecs
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from reportgen import create_app
from reportgen.domain.csv_export import render_csv
from reportgen.domain.submission import parse_text
from reportgen.extensions import db
from reportgen.models import Report

from ..support.api import post_json, submit
from ..support.database import all_reports, report_count, stored_upload
from ..support.pages import block, submit_form
from ..support.payloads import event, sample_students, student
from ..support.processes import ROOT

BOM = codecs.BOM_UTF8
EXAMPLE_JSON = ROOT / "examples" / "students.json"
EXAMPLE_CSV = ROOT / "examples" / "students.csv"


def post_csv(client, url: str, text: str | bytes):
    return client.post(url, data=text.encode("utf-8") if isinstance(text, str) else text, content_type="text/csv")


def tricky_students() -> list[dict]:
    """What the export changes on the way out: formula-like cells (given an apostrophe), untimed
    events (an empty cell), times with offsets or microseconds (written in UTC, to the
    millisecond), two namespaces, and events out of time order."""
    return [
        *sample_students(),
        student("=HYPERLINK(\"http://evil\")", [event(-1, "2024-07-21T01:00:00+05:30", "+save"),
                                                  event("@intro"), event(3, "2024-07-20 23:00:00")]),
        student("bob", [event("b2", "2024-07-23T08:00:00.123456Z"), event("b1", "2024-07-23T07:59:59Z")],
                namespace="-ns"),
    ]


def sequences(client, content_type: str, body: bytes | str, metrics: bool = False) -> dict:
    response = client.post(f"/assignment/sequence?metrics={int(metrics)}", data=body, content_type=content_type)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the round trip -------------------------------------------------------------------------

def test_a_downloaded_csv_report_uploads_to_the_same_sequences(client, run_worker):
    original = json.dumps(tricky_students())
    task_id = submit(client, "csv", tricky_students())
    run_worker()
    exported = client.get(f"/assignment/csv/{task_id}")
    assert exported.status_code == 200 and exported.data.startswith(b"student_id,namespace,position,")
    assert b"'=HYPERLINK" in exported.data and b",'-1," in exported.data  # the export neutralised them
    from_csv = sequences(client, "text/csv", exported.data)
    from_json = sequences(client, "application/json", original)
    assert from_csv == from_json
    assert [s["student_id"] for s in from_csv["students"]] == [
        "alice", "Zoë Дмитрий Ωμέγα", "=HYPERLINK(\"http://evil\")", "bob"]
    again = post_csv(client, "/assignment/csv", exported.data)
    assert again.status_code == 202
    run_worker()
    assert client.get(f"/assignment/csv/{again.get_json()['task_id']}").data == exported.data


def test_the_example_csv_is_the_example_json_exported_and_uploads_to_the_same_sequences(client):
    assert EXAMPLE_CSV.read_bytes() == render_csv(parse_text(EXAMPLE_JSON.read_bytes()))
    from_csv = sequences(client, "text/csv", EXAMPLE_CSV.read_bytes(), metrics=True)
    assert from_csv == sequences(client, "application/json", EXAMPLE_JSON.read_bytes(), metrics=True)
    assert len(from_csv["students"]) == 19


# --- what the layout accepts ----------------------------------------------------------------

def test_rows_of_one_student_and_namespace_are_one_student_in_first_appearance_order(client):
    table = ("student_id,namespace,created_time,unit\r\n"
             "bob,n,2024-07-21T03:00:00Z,2\r\n"
             "alice,n,2024-07-21T02:00:00Z,1\r\n"
             "bob,other,2024-07-21T01:00:00Z,1\r\n"
             "bob,n,2024-07-21T01:00:00Z,1\r\n")
    body = sequences(client, "text/csv", table)
    assert [(s["student_id"], s["namespace"], s["sequence"]) for s in body["students"]] == [
        ("bob", "n", ["Q1", "Q2"]), ("alice", "n", ["Q1"]), ("bob", "other", ["Q1"])]


def test_bom_semicolons_extra_columns_any_order_and_blank_rows_are_fine(client):
    excel = ("\ufeffUnit ; Note, if any ; Student_ID ;created_time\r\n"
             "17;first try, saved;alice;2024-07-21 03:04:55.939+00:00\r\n"
             "\r\n"
             "5;;alice;2024-07-21T03:00:00Z\r\n"
             ";;;\r\n").encode("utf-8")
    body = sequences(client, "text/csv; charset=utf-8", excel)
    assert body["students"][0]["student_id"] == "alice" and body["students"][0]["namespace"] == ""
    assert body["students"][0]["sequence"] == ["Q1", "Q2"]
    assert body["namespaces"][""]["units"] == {"Q1": "5", "Q2": "17"}


def test_cells_pasted_from_a_spreadsheet_are_tab_separated_and_fine_too(client):
    body = sequences(client, "text/csv", "student_id\tunit\nalice\t2\nalice\t1\n")
    assert body["students"][0]["sequence"] == ["Q2", "Q1"]


def test_every_submit_endpoint_takes_csv_and_stores_it_as_json_does(app, client):
    table = render_csv(parse_text(json.dumps(sample_students())))
    csv_id = post_csv(client, "/assignment/pdf", table).get_json()["task_id"]
    json_id = post_json(client, "/assignment/pdf", sample_students()).get_json()["task_id"]
    for report_format in ("html", "csv"):
        assert post_csv(client, f"/assignment/{report_format}", table).status_code == 202
    with app.app_context():
        made = {report.id: report for report in db.session.scalars(
            select(Report).options(db.undefer(Report.labels)).where(Report.id.in_([csv_id, json_id])))}
        assert (made[csv_id].student_ids, made[csv_id].event_count, made[csv_id].labels) == (
            made[json_id].student_ids, made[json_id].event_count, made[json_id].labels)
    assert report_count(app) == 4


# --- problems, by row and column ------------------------------------------------------------

def test_invalid_cells_are_400_by_row_and_column_with_the_reasons_json_gets(app, client):
    table = ("student_id,namespace,created_time,type,unit\n"
             "alice,n,2024-07-21T03:00:00Z,saved,5\n"
             'alice,n,"yesterday, noon",saved,6\n'
             ",n,,saved,7\n"
             "bob,n,,,\n")
    response = post_csv(client, "/assignment/pdf", table)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid submission: 3 problems"
    json_body = post_json(client, "/assignment/pdf", [
        student("alice", [event(5), {"unit": 6, "created_time": "yesterday, noon"}]),
        {"namespace": "n", "events": [event(7)]},
        student("bob", [{"type": "x"}]),
    ]).get_json()
    assert body["details"] == {
        "row 3, column created_time": json_body["details"]["[0].events[1].created_time"],
        "row 4, column student_id": "is required",
        "row 5, column unit": "is required",
    }
    assert "'yesterday, noon' is not an ISO 8601 date-time" in body["details"]["row 3, column created_time"]
    assert report_count(app) == 0


@pytest.mark.parametrize("body, where, words", [
    (b"", "$", "The request body is empty: send the students as JSON"),
    (b"name,unit\nalice,1\n", "row 1", "the header has no student_id column"),
    (b"alice,1\nbob,2\n", "row 1", "the first row must name the columns"),
    (b"student_id,unit,unit\na,1,2\n", "row 1", "names the column unit twice"),
    (b"student_id,unit\nalice,1\n\"bob,2\n", "row 3", "quoted cell that is never closed"),
    (b"student_id,unit\nalice,\"1\"x\n", "row 2", "text after the closing"),
    ("student_id,unit\nalice,1\nZoë,2\n".encode("latin-1"), "row 3", 'save the file as UTF-8 (in Excel: "CSV UTF-8")'),
    (b"student_id,unit\n", "row 2", "must contain at least one student"),
])
def test_a_csv_that_is_not_the_layout_is_400_saying_where(app, client, body, where, words):
    response = post_csv(client, "/assignment/sequence", body)
    assert response.status_code == 400
    assert words in response.get_json()["details"][where]
    assert report_count(app) == 0


def test_other_content_types_are_still_415_and_name_both(client):
    response = client.post("/assignment/sequence", data="student_id,unit\na,1\n", content_type="text/plain")
    assert response.status_code == 415
    assert "application/json or text/csv" in response.get_json()["error"]


def test_a_csv_over_the_limit_is_413_like_json(app, config):
    limited = create_app({**config, "MAX_CONTENT_LENGTH": 1000})
    response = post_csv(limited.test_client(), "/assignment/csv", "student_id,unit\n" + "alice,1\n" * 200)
    assert response.status_code == 413 and response.is_json
    assert "1000 byte limit" in response.get_json()["error"]
    assert report_count(app) == 0
    with limited.app_context():
        db.engine.dispose()


# --- the upload form ------------------------------------------------------------------------

def test_the_form_takes_a_csv_file_and_pasted_cells_as_the_api_does(app, client):
    exported = render_csv(parse_text(json.dumps(sample_students())))
    assert submit_form(client, file=("students.csv", exported), formats=["html"]).status_code == 303
    pasted = exported.decode("utf-8").replace(",", "\t")
    assert submit_form(client, text=pasted, formats=["html"]).status_code == 303
    post_csv(client, "/assignment/html", exported)
    reports = all_reports(app)
    assert len(reports) == 3 and len({json.dumps(stored_upload(app, report.id)) for report in reports}) == 1
    assert {(tuple(report.student_ids), report.event_count) for report in reports} == {(("alice", "Zoë Дмитрий Ωμέγα"), 5)}


def test_the_form_lists_csv_problems_by_row_and_column_in_words(app, client):
    text = "student_id;unit;created_time\nalice;5;2024-07-21\nalice;;soon\n"
    response = submit_form(client, text=text, formats=["pdf"], label="Week 3")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = block(page, "text-errors")
    assert "Row 3, column unit: the cell is empty" in errors  # plain words (issue 13)
    assert "Row 3, column created_time: 'soon' is not an ISO 8601 date-time" in errors
    assert 'value="Week 3"' in page
    assert report_count(app) == 0


def test_a_csv_file_with_a_wrong_header_is_named_with_its_row(app, client):
    response = submit_form(client, file=("marks.csv", b"name,score\nalice,3\n"))
    assert response.status_code == 400
    errors = block(response.get_data(as_text=True), "file-errors")
    assert "marks.csv" in errors and "The CSV can’t be read" in errors
    assert "Row 1: the header has no student_id and no unit column" in errors
    assert report_count(app) == 0


def test_the_upload_page_says_csv_is_welcome(client):
    page = client.get("/").get_data(as_text=True)
    assert 'accept=".json,.jsonl,.ndjson,.csv,application/json,text/csv"' in page
    assert "JSON or CSV file" in page and "Paste JSON or CSV" in page


# --- CSV out, for Excel ---------------------------------------------------------------------

def test_bom_1_prepends_a_byte_order_mark_to_every_csv_download_and_the_stored_one_has_none(client, run_worker):
    task_id = submit(client, "csv", sample_students())
    run_worker()
    plain = client.get(f"/assignment/csv/{task_id}")
    assert not plain.data.startswith(BOM)
    excel = client.get(f"/assignment/csv/{task_id}?bom=1")
    assert excel.status_code == 200 and excel.data == BOM + plain.data
    assert excel.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert excel.headers["Content-Disposition"] == plain.headers["Content-Disposition"].replace(".csv", "-excel.csv")
    assert excel.headers["ETag"] != plain.headers["ETag"]
    assert client.get(f"/assignment/csv/{task_id}?bom=0").data == plain.data
    assert client.get(f"/assignment/csv/{task_id}").data == plain.data  # stored as it was
    one = client.get(f"/assignment/csv/{task_id}/students/1")
    assert client.get(f"/assignment/csv/{task_id}/students/1?bom=1").data == BOM + one.data
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/assignment/csv/{task_id}?bundle=zip&bom=1").data))
    assert [archive.read(name)[:3] for name in archive.namelist()] == [BOM, BOM]
    assert post_csv(client, "/assignment/sequence", excel.data).status_code == 200


@pytest.mark.parametrize("query", ["bom=2", "bom=yes", "bom="])
def test_bom_other_than_0_or_1_is_400(client, query):
    task_id = submit(client, "csv", sample_students())
    for url in (f"/assignment/csv/{task_id}?{query}", f"/assignment/csv/{task_id}/students/0?{query}"):
        response = client.get(url)
        assert response.status_code == 400 and response.get_json()["error"] == "bom must be 0 or 1"


def test_bom_is_for_csv_only(client):
    task_id = submit(client, "pdf", sample_students())
    response = client.get(f"/assignment/pdf/{task_id}?bom=1")
    assert response.status_code == 400 and "CSV downloads only" in response.get_json()["error"]


def test_the_status_page_offers_the_csv_for_excel(app, client, run_worker):
    response = submit_form(client, text=json.dumps(sample_students()), formats=["csv", "html"])
    run_worker()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    csv_report = next(report for report in all_reports(app) if report.format == "csv")
    assert f'href="/assignment/csv/{csv_report.id}" download>Download CSV</a>' in page
    assert f'href="/assignment/csv/{csv_report.id}?bom=1" download>Download CSV for Excel</a>' in page
    assert page.count("for Excel") == 1  # not for the HTML
