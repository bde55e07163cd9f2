"""Record where a report was submitted, for the absolute links of its webhook.

A worker has no request to build links under; when ``REPORTGEN_PUBLIC_URL`` is unset it uses the
scheme, host and path prefix of the submit (``reports.base_url``). Older rows keep NULL: their
webhooks' links stay relative, as they were.

Revision ID: 0016_report_base_url
Revises: 0015_preset_dictionaries

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_report_base_url'
down_revision = '0015_preset_dictionaries'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('base_url', sa.String(length=2000), nullable=True))


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('base_url')
