"""Class histories on PostgreSQL: narrower event and id rows, and no per-row foreign key check.

PostgreSQL only (SQLite's tables are the keys themselves, ``WITHOUT ROWID``, and stay as 0013
and 0017 made them). Both tables are rewritten, their rows in key order:

* ``class_events`` as ``(at, student, unit, type, added_day)``: an ``int8`` after one ``int4``
  was padded to 8 bytes, so a row's data took 32 bytes; ``at`` first makes it 24 (heap 57.4 →
  49.8 MiB for 1,000,000 events). Its primary key ``(student, at, unit, type)`` is unchanged
  (the rule for duplicates, the order reads go by), with ``fillfactor = 100``: what is appended
  to a student comes after what it holds (1.7 MiB less index a million events).
* ``class_event_ids`` as ``(hash, student, added_day)``: 16 bytes of data instead of 24.
* Neither keeps its foreign key to ``class_students``: its check is a query per inserted row
  (``SELECT … FOR KEY SHARE``), which took 1.9–2.8 s of the 0.3–0.7 s a COPY of 200,000 events
  otherwise takes (load 3.5). Its ``ON DELETE CASCADE`` was never what erased events: erasing a
  student or a class and the sweeper's purge delete the events and ids themselves, and take the
  class's lock first, as an append does, so no append can add to a student being deleted.

Revision ID: 0021_pg_event_layout
Revises: 0020_subscription_emails_job

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_pg_event_layout'
down_revision = '0020_subscription_emails_job'
branch_labels = None
depends_on = None

EVENTS = "student, at, unit, type"
IDS = "student, hash"


def _rewrite(table: str, columns: str, key: str, index_options: str = "", foreign_key: bool = False) -> None:
    op.execute(f"CREATE TABLE {table}_rewritten ({columns})")
    names = ", ".join(column.split()[0] for column in columns.split(", "))
    condition = " WHERE student IN (SELECT id FROM class_students)" if foreign_key else ""
    op.execute(f"INSERT INTO {table}_rewritten ({names}) SELECT {names} FROM {table}{condition} ORDER BY {key}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_rewritten RENAME TO {table}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key}){index_options}")
    if foreign_key:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_student_fkey FOREIGN KEY (student) "
                   "REFERENCES class_students (id) ON DELETE CASCADE")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    _rewrite("class_events", "at BIGINT NOT NULL, student INTEGER NOT NULL, unit INTEGER NOT NULL, "
                             "type INTEGER NOT NULL, added_day INTEGER NOT NULL", EVENTS, " WITH (fillfactor = 100)")
    _rewrite("class_event_ids", "hash BIGINT NOT NULL, student INTEGER NOT NULL, added_day INTEGER NOT NULL", IDS)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    _rewrite("class_events", "student INTEGER NOT NULL, at BIGINT NOT NULL, unit INTEGER NOT NULL, "
                             "type INTEGER NOT NULL, added_day INTEGER NOT NULL", EVENTS, foreign_key=True)
    _rewrite("class_event_ids", "student INTEGER NOT NULL, hash BIGINT NOT NULL, added_day INTEGER NOT NULL", IDS,
             foreign_key=True)
