"""Webhooks are deliveries too: a delivery has a kind (``email`` or ``webhook``), a recipient
long enough for a URL, and the HTTP status of a webhook's last answer.

Existing rows are emails (the server default). A downgrade deletes the webhook deliveries,
which the schema before this one cannot describe.

Revision ID: 0009_webhooks
Revises: 0008_clients

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_webhooks'
down_revision = '0008_clients'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='email', nullable=False))
        batch_op.add_column(sa.Column('status_code', sa.Integer(), nullable=True))
        batch_op.alter_column('recipient', existing_type=sa.String(length=320), type_=sa.String(length=2048),
                              existing_nullable=False)


def downgrade():
    op.execute("DELETE FROM deliveries WHERE kind = 'webhook'")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('recipient', existing_type=sa.String(length=2048), type_=sa.String(length=320),
                              existing_nullable=False)
        batch_op.drop_column('status_code')
        batch_op.drop_column('kind')
