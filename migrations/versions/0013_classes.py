"""Classes that remember: a namespace's stored events, owned by the client that stored them.

``classes`` is one namespace of one owner, with its time zone and running counts;
``class_students`` and ``class_names`` number its students, units and event types, so that
``class_events`` holds four integers per event (student, microseconds since 1970 UTC, unit,
type) and its primary key is the rule for duplicates, plus the day it was stored (days since
1970 UTC: retention counts from then, as a report's from when it was made, so a class of old
events appended today is kept ``REPORTGEN_EVENT_RETENTION_DAYS`` from today).
``class_students.first_added`` is its oldest such day, so the sweeper finds what to purge
without reading events. On SQLite that table is ``WITHOUT ROWID``:
the key is the table, no index beside it (measured: 0.3 times the compact JSON of the events on
SQLite, see BENCHMARKS.md). ``class_days`` rolls each student's events up per local day of the class's zone (events, time on
task within the day, first and last event), written by every append, rebuilt when the zone
changes: a class summary reads about 30 rows a student-month instead of 100 events (374 ms →
the time BENCHMARKS.md records, on 2.4 million events). ``class_reports`` ties a report made from a history to its class and
period, for the class summary. New tables only, so plain ``create_table`` on both databases.

Revision ID: 0013_classes
Revises: 0012_metrics_indexes

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_classes'
down_revision = '0012_metrics_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'classes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner', sa.String(length=80), nullable=False),
        sa.Column('namespace', sa.String(length=200), nullable=False),
        sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
        sa.Column('student_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('event_count', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('first_event', sa.BigInteger(), nullable=True),
        sa.Column('last_event', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_added_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner', 'namespace', name='uq_classes_owner_namespace'),
    )
    op.create_table(
        'class_students',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Text(), nullable=False),
        sa.Column('event_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('first_event', sa.BigInteger(), nullable=True),
        sa.Column('last_event', sa.BigInteger(), nullable=True),
        sa.Column('first_added', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['class_id'], ['classes.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('class_id', 'student_id', name='uq_class_students'),
    )
    op.create_table(
        'class_names',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.SmallInteger(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['class_id'], ['classes.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('class_id', 'kind', 'name', name='uq_class_names'),
    )
    op.create_table(
        'class_events',
        sa.Column('student', sa.Integer(), nullable=False),
        sa.Column('at', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('unit', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('type', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('added_day', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['student'], ['class_students.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('student', 'at', 'unit', 'type'),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'class_days',
        sa.Column('student', sa.Integer(), nullable=False),
        sa.Column('day', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('on_task_us', sa.BigInteger(), nullable=False),
        sa.Column('first_at', sa.BigInteger(), nullable=False),
        sa.Column('last_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['student'], ['class_students.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('student', 'day'),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'class_reports',
        sa.Column('report_id', sa.String(length=36), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.BigInteger(), nullable=False),
        sa.Column('period_end', sa.BigInteger(), nullable=False),
        sa.Column('student_id', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['class_id'], ['classes.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('report_id'),
    )
    op.create_index('ix_class_reports_class_id', 'class_reports', ['class_id'], unique=False)


def downgrade():
    op.drop_index('ix_class_reports_class_id', table_name='class_reports')
    op.drop_table('class_reports')
    op.drop_table('class_days')
    op.drop_table('class_events')
    op.drop_table('class_names')
    op.drop_table('class_students')
    op.drop_table('classes')
