"""Rosters: a class's names and addresses for its student ids.

``class_roster`` is one row per listed student, keyed by the class and the id (a roster is
replaced whole, so no other key is needed), deleted with its class (``ON DELETE CASCADE``, as
every table of a class). New table only, so plain ``create_table`` on both databases.

Revision ID: 0018_rosters
Revises: 0017_event_ids

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_rosters'
down_revision = '0017_event_ids'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'class_roster',
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(['class_id'], ['classes.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('class_id', 'student_id'),
    )


def downgrade():
    op.drop_table('class_roster')
