"""The migrations in migrations/ build exactly the schema the models describe, and what a
report stored before a migration still reads back after it."""
import json

from flask_migrate import check, downgrade, upgrade
from sqlalchemy import inspect, text

from reportgen.extensions import db

from ..support.api import submit
from ..support.payloads import multi_script_class
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
