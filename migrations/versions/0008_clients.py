"""Private by default and idempotent submits: who submitted a report, and the key it came with.

``owner`` names the client that submitted the report (``token:<id>`` for an API token,
``operator`` for the signed-in operator, ``anonymous`` on an open server); reports from before
have none, which only the operator sees once tokens are on. ``idempotency_client`` and
``idempotency_key`` are the ``Idempotency-Key`` header a submit came with and the client it is
scoped to (a token, or the address when tokens are off), unique together so that the database,
not a check before the insert, decides which of two concurrent duplicates wins;
``request_digest`` is the SHA-256 of what was submitted, so a key sent again with another body
is told apart.

Revision ID: 0008_clients
Revises: 0007_store_once

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_clients'
down_revision = '0007_store_once'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('idempotency_client', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('request_digest', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_reports_owner', ['owner'], unique=False)
        batch_op.create_unique_constraint('uq_reports_idempotency', ['idempotency_client', 'idempotency_key'])


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_constraint('uq_reports_idempotency', type_='unique')
        batch_op.drop_index('ix_reports_owner')
        batch_op.drop_column('request_digest')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('idempotency_client')
        batch_op.drop_column('owner')
