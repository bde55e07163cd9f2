"""The migrations in migrations/ build exactly the schema the models describe, and what a
report stored before a migration still reads back after it."""
import json

from flask_migrate import check, downgrade, upgrade
from sqlalchemy import inspect, text

from reportgen.extensions import db

from ..support.api import submit
from ..support.payloads import event, multi_script_class, student
from ..support.processes import run_burst_workers


def test_models_and_migrations_agree_on_postgresql(app):
    with app.app_context():
        check()


def test_downgrade_to_base_and_back(app):
    with app.app_context():
        downgrade(revision="base")
        assert "reports" not in inspect(db.engine).get_table_names()
        upgrade()
        columns = {c["name"]: c for c in inspect(db.engine).get_columns("reports")}
        assert type(columns["content"]["type"]).__name__ == "BYTEA"


def test_a_report_finished_before_its_sequences_were_compressed_answers_the_same_metadata_after(
        any_database_app, tmp_path):
    app = any_database_app
    client = app.test_client()
    task_id = submit(client, "csv", multi_script_class())
    run_burst_workers(app.config, tmp_path, 1)
    metadata = client.get(f"/assignment/csv/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert [s["student_id"] for s in metadata["sequences"]["students"]][:3] == ["محمد علي", "דוד כהן", "王小明"]
    with app.app_context():
        try:
            downgrade(revision="0021_pg_event_layout")  # the report as 0021 stored it: sequences as JSON
            stored = db.session.scalar(text("SELECT sequences FROM reports WHERE id = :id"), {"id": task_id})
            db.session.commit()
            assert (json.loads(stored) if isinstance(stored, str) else stored) == metadata["sequences"]
        finally:
            upgrade()
    after = client.get(f"/assignment/csv/{task_id}", headers={"Accept": "application/json"})
    assert after.status_code == 200
    assert after.get_json() == metadata


def test_metrics_with_activity_are_stored_small_and_downgrade_to_plain_zlib_with_the_same_metadata(
        any_database_app, tmp_path):
    """0023's preset knows a period's activity: a two-event student ten days apart (activity per
    day beside the class median) stores its metrics in ~112 bytes, not ~231."""
    from reportgen.models import COMPRESSED

    app = any_database_app
    client = app.test_client()
    students = [student(f"s{n}", [event(str(n % 3), "2024-07-01T08:00:00Z"), event("9", "2024-07-10T08:00:00Z")])
                for n in range(6)]
    task_id = submit(client, "csv", students)
    run_burst_workers(app.config, tmp_path, 1)
    metadata = client.get(f"/assignment/csv/{task_id}", headers={"Accept": "application/json"}).get_json()
    assert metadata["students"][0]["metrics"]["activity"]["per"] == "day"
    stored_metrics = text("SELECT metrics FROM report_items WHERE report_id = :id ORDER BY position")
    with app.app_context():
        values = [bytes(value) for value in db.session.scalars(stored_metrics, {"id": task_id})]
        db.session.commit()
        assert all(value.startswith(b"\x00dn") and len(value) < 140 for value in values), [len(v) for v in values]
        try:
            downgrade(revision="0022_compressed_sequences")
            values = [bytes(value) for value in db.session.scalars(stored_metrics, {"id": task_id})]
            db.session.commit()
            assert all(value.startswith(COMPRESSED) for value in values)
        finally:
            upgrade()
    assert client.get(f"/assignment/csv/{task_id}", headers={"Accept": "application/json"}).get_json() == metadata
