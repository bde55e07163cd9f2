"""One email per recipient per upload: a report records when its upload's emails were queued.

The emails of an upload (every format the form made from one submission) live on its last
report created, the lead; whichever report of the upload ends last claims them by setting the
lead's ``emails_queued_at`` in a conditional UPDATE, so two formats finishing at once on two
workers queue them once. Reports that had ended before this revision had their emails queued
already: they are marked with their ``finished_at``, so the sweeper treats any of their emails
still queued as lost jobs, as it did before.

Revision ID: 0010_upload_emails
Revises: 0009_webhooks

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_upload_emails'
down_revision = '0009_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emails_queued_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE reports SET emails_queued_at = finished_at "
               "WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED') AND finished_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('emails_queued_at')
