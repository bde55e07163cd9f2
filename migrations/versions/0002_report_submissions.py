"""Group the reports of one upload-form submission and keep its optional label.

Revision ID: 0002_submissions
Revises: 0001_reports

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_submissions'
down_revision = '0001_reports'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('submission_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_reports_submission_id'), ['submission_id'], unique=False)


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_submission_id'))
        batch_op.drop_column('submission_id')
        batch_op.drop_column('label')
