"""Record which job sends a subscription run's emails, so the sweeper can tell a run whose
sender died (its worker killed mid-run) from one whose sender is still working or waiting.

Each job of a run's emails has its own id (``subscription-emails-<run>-<attempt>``: the chain of
200-message jobs and the rate limit's next-minute jobs); ``emails_attempt`` is the newest. NULL
for runs that have not reached their emails, and for older rows (their senders have ended).

Revision ID: 0020_subscription_emails_job
Revises: 0019_subscriptions

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_subscription_emails_job'
down_revision = '0019_subscriptions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscription_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emails_attempt', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('subscription_runs', schema=None) as batch_op:
        batch_op.drop_column('emails_attempt')
