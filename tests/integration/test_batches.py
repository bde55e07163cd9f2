"""Batches: fan-out over several real workers, per-student documents, ZIP bundles and CSV."""
import csv
import io
import zipfile

from ..support.api import status, submit
from ..support.payloads import event, sample_students, student
from ..support.processes import listening_workers, wait_until


def cohort(size: int) -> list[dict]:
    return [student(f"s{number:03d}", [event(number % 7, f"2024-07-21T03:{number % 60:02d}:00Z"), event(99)])
            for number in range(size)]


def test_csv_report_is_one_row_per_event_as_an_attachment(client, run_worker):
    task_id = submit(client, "csv", sample_students())
    run_worker()
    response = client.get(f"/assignment/csv/{task_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="report-2-students-{task_id[:8]}.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["student_id", "namespace", "position", "created_time", "type", "unit", "label"]
    assert [row[:3] + row[5:] for row in rows[1:]] == [
        ["alice", "course-1", "1", "5", "Q1"],
        ["alice", "course-1", "2", "17", "Q4"],
        ["alice", "course-1", "3", "17", "Q4"],
        ["Zoë Дмитрий Ωμέγα", "course-1", "1", "10", "Q3"],
        ["Zoë Дмитрий Ωμέγα", "course-1", "2", "9", "Q2"],
    ]
    assert rows[1][3] == "2024-07-21T03:00:00.000Z"


COHORT = 120  # three chunks of 50: enough for two workers to share


def test_a_cohort_fans_out_over_two_workers_and_summarises(client, config, tmp_path):
    task_id = submit(client, "html", cohort(COHORT))
    assert client.get(f"/assignment/html/{task_id}").get_json()["progress"]["total"] == COHORT
    with listening_workers(config, tmp_path, 2) as logs:
        body = wait_until(lambda: (s := status(client, "html", task_id))["status"] in ("SUCCESS", "FAILURE") and s,
                          120, "the cohort to finish")
    assert all("Job OK" in log.read_text() for log in logs), "both workers should have rendered part of the cohort"
    assert body["status"] == "SUCCESS"
    assert body["progress"] == {"current": COHORT, "total": COHORT, "percent": 100}
    summary = body["summary"]
    assert (summary["total"], summary["succeeded"], summary["failed"], summary["success_rate"]) == (COHORT, COHORT, 0, 1.0)
    assert [s["student_id"] for s in summary["students"]] == [f"s{n:03d}" for n in range(COHORT)]
    combined = client.get(f"/assignment/html/{task_id}").get_data(as_text=True)
    assert all(f"s{n:03d}" in combined for n in range(COHORT))


def test_per_student_documents_and_the_zip_bundle(client, run_worker):
    task_id = submit(client, "pdf", sample_students())
    run_worker()
    first = client.get(f"/assignment/pdf/{task_id}/students/0")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    assert first.headers["Content-Disposition"] == f'attachment; filename="0001-alice-{task_id[:8]}.pdf"'
    assert client.get(f"/assignment/pdf/{task_id}/students/2").status_code == 404
    assert client.get(f"/assignment/html/{task_id}/students/0").status_code == 404
    bundle = client.get(f"/assignment/pdf/{task_id}?bundle=zip")
    assert bundle.status_code == 200 and bundle.mimetype == "application/zip"
    assert bundle.headers["Content-Disposition"] == f'attachment; filename="report-2-students-{task_id[:8]}-pdf.zip"'
    archive = zipfile.ZipFile(io.BytesIO(bundle.data))
    assert archive.testzip() is None
    assert archive.namelist() == [f"0001-alice-{task_id[:8]}.pdf", f"0002-Zoë Дмитрий Ωμέγα-{task_id[:8]}.pdf"]
    second = client.get(f"/assignment/pdf/{task_id}/students/1")
    assert second.headers["Content-Disposition"] == (
        f'attachment; filename="0002-Zoe-{task_id[:8]}.pdf"; filename*=UTF-8\'\'0002-Zo%C3%AB%20%D0%94%D0%BC%D0%B8%D1%82%D1%80%D0%B8%D0%B9'
        f'%20%CE%A9%CE%BC%CE%AD%CE%B3%CE%B1-{task_id[:8]}.pdf')
    assert archive.read(f"0001-alice-{task_id[:8]}.pdf") == first.data
    assert client.get(f"/assignment/pdf/{task_id}?bundle=tar").status_code == 400


def test_bundle_of_an_unfinished_report_is_still_202(client):
    task_id = submit(client, "csv", sample_students())
    response = client.get(f"/assignment/csv/{task_id}?bundle=zip")
    assert response.status_code == 202 and response.get_json()["status"] == "PENDING"
