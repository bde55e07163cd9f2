"""A report keeps the request id of the request that submitted it.

The caller's ``X-Request-ID`` (or the one the server made) is stored so that the report's jobs,
webhook and email, and the status JSON, carry the same id as the submitting request's log lines.
Reports from before this revision have none (NULL).

Revision ID: 0011_request_ids
Revises: 0010_upload_emails

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_request_ids'
down_revision = '0010_upload_emails'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=128), nullable=True))


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('request_id')
