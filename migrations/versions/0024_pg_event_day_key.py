"""Class histories on PostgreSQL: the events' unique key starts with the event's UTC day.

PostgreSQL only (SQLite's ``class_events`` is its own key, ``WITHOUT ROWID``, as 0013 made it).
The primary key ``(student, at, unit, type)`` is replaced by the unique index
``class_events_day_key`` on ``((at / 86400000000)::integer, student, at, unit, type)`` with
``fillfactor = 100``. It is still the rule for duplicates (the day is a function of ``at``), and
``ON CONFLICT DO NOTHING`` and a COPY refused by a unique violation behave as before.

Why: each append added rows in the middle of the old key, once per student, and PostgreSQL
splits a full leaf page there in halves. The key took 61 MiB for 1,000,000 events where 34 MiB
would hold it packed. New days now go to the right end of the index, where pages are filled
completely. The day is an ``int4`` in the padding after ``student``, so an entry stays 36 bytes,
and it is an expression, so the heap keeps its 24 bytes of data a row (a stored column would add
8 bytes a row after alignment).

Measured with ``bench/history_bench.py --database pgserver`` (PostgreSQL 16.2 embedded, 2 shared
cores, 1,000,000 events of 78.6 MiB compact JSON in 5 appends): ``class_events`` 111.0 → 85.3 MiB
(heap 49.9 MiB, key 61.1 → 35.4 MiB), stored 1.62× → 1.29× the JSON with the roll-up's 14.8 MiB;
appends as fast as before (BENCHMARKS.md). Packed only while each append brings whole days of
the class: with ``--ids`` a month comes in two halves of its students, the second half goes into
the middle of each day, and the key is 52.8 MiB (1.78× → 1.71× with the ids' table).

Appends put their rows in the key's order (``event_days.in_key_order``); the index built here
from existing rows is packed whatever their order.

The cost is that a query must name the days it looks in (``reportgen/history/event_days.py``).

Revision ID: 0024_pg_event_day_key
Revises: 0023_metrics_activity_preset

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0024_pg_event_day_key'
down_revision = '0023_metrics_activity_preset'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE class_events DROP CONSTRAINT class_events_pkey")
    op.execute("CREATE UNIQUE INDEX class_events_day_key ON class_events "
               "(((at / 86400000000)::integer), student, at, unit, type) WITH (fillfactor = 100)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX class_events_day_key")
    op.execute("ALTER TABLE class_events ADD CONSTRAINT class_events_pkey PRIMARY KEY (student, at, unit, type) "
               "WITH (fillfactor = 100)")
