"""What an upload was read as: the format (reportgen's own, xAPI, a Moodle log, Caliper) and how
many records were read, used and skipped, and why (issue 21). The status JSON and the report say
it. NULL for reports from before this revision (they were all reportgen's own format).

Revision ID: 0014_report_input
Revises: 0013_classes

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_report_input'
down_revision = '0013_classes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('input', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('input')
