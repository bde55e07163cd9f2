"""Subscriptions: a class's reports made and emailed every month or week.

``subscriptions`` holds the schedule and what to send, with the next run's time and period
(an index on ``paused, next_due`` lets a tick find what is due without reading the rest:
BENCHMARKS.md). ``subscription_runs`` is one row per subscription and period, and its unique key
is what makes a run happen once, whoever asks. ``subscription_reports`` ties a report to its run
(its ending looks there), ``subscription_emails`` one row per message of a run, unique per
recipient, written before it is sent. New tables only, so plain ``create_table`` on both databases.

Revision ID: 0019_subscriptions
Revises: 0018_rosters

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_subscriptions'
down_revision = '0018_rosters'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner', sa.String(length=80), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('every', sa.String(length=8), nullable=False),
        sa.Column('day', sa.SmallInteger(), nullable=False),
        sa.Column('time', sa.String(length=5), nullable=False),
        sa.Column('formats', sa.JSON(), nullable=False),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('students', sa.Boolean(), nullable=False),
        sa.Column('skip_if_empty', sa.Boolean(), nullable=False),
        sa.Column('options', sa.JSON(), nullable=True),
        sa.Column('callback_url', sa.String(length=2048), nullable=True),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('next_due', sa.BigInteger(), nullable=False),
        sa.Column('next_period', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['class_id'], ['classes.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_subscriptions_due', 'subscriptions', ['paused', 'next_due'], unique=False)
    op.create_index('ix_subscriptions_owner', 'subscriptions', ['owner'], unique=False)
    op.create_index('ix_subscriptions_class_id', 'subscriptions', ['class_id'], unique=False)
    op.create_table(
        'subscription_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('due', sa.BigInteger(), nullable=True),
        sa.Column('trigger', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('report_ids', sa.JSON(), nullable=True),
        sa.Column('without_address', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('subscription_id', 'period', name='uq_subscription_runs_period'),
    )
    op.create_index('ix_subscription_runs_status', 'subscription_runs', ['status'], unique=False)
    op.create_table(
        'subscription_reports',
        sa.Column('report_id', sa.String(length=36), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['run_id'], ['subscription_runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('report_id'),
    )
    op.create_index('ix_subscription_reports_run_id', 'subscription_reports', ['run_id'], unique=False)
    op.create_table(
        'subscription_emails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('student_id', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['subscription_runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_id', 'recipient', name='uq_subscription_emails_recipient'),
    )


def downgrade():
    op.drop_table('subscription_emails')
    op.drop_index('ix_subscription_reports_run_id', table_name='subscription_reports')
    op.drop_table('subscription_reports')
    op.drop_index('ix_subscription_runs_status', table_name='subscription_runs')
    op.drop_table('subscription_runs')
    op.drop_index('ix_subscriptions_class_id', table_name='subscriptions')
    op.drop_index('ix_subscriptions_owner', table_name='subscriptions')
    op.drop_index('ix_subscriptions_due', table_name='subscriptions')
    op.drop_table('subscriptions')
