"""The migrations in migrations/ build exactly the schema the models describe."""
from flask_migrate import check, downgrade, upgrade
from sqlalchemy import inspect

from reportgen.extensions import db


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
