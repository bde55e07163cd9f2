"""Event ids in a class's history: an event whose id was stored before is a duplicate.

``class_event_ids`` holds, per student of a class, an 8-byte hash of each event id the data
carried (xAPI statement ids, Caliper event ids, JSON ``id``) and the day it was stored (for
retention, as ``class_events.added_day``). The key ``(student, hash)`` is the whole table on
SQLite (``WITHOUT ROWID``): about 20 bytes an id instead of the 36-character UUID or longer
IRI. A new table only, so plain ``create_table`` on both databases; nothing to backfill (the
events stored so far kept no ids).

Revision ID: 0017_event_ids
Revises: 0016_report_base_url

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_event_ids'
down_revision = '0016_report_base_url'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'class_event_ids',
        sa.Column('student', sa.Integer(), nullable=False),
        sa.Column('hash', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('added_day', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['student'], ['class_students.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('student', 'hash'),
        sqlite_with_rowid=False,
    )


def downgrade():
    op.drop_table('class_event_ids')
