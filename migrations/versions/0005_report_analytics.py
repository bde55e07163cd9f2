"""Report options, the analytics stored with an upload, and chunk documents.

A report now records the options it was made with, each class's ranges (cohorts), any
warnings and how many events a window left out; each student keeps its metrics and, for
a PDF, where its pages lie in its chunk's document (stored once in report_parts).

Revision ID: 0005_report_analytics
Revises: 0004_deliveries

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_report_analytics'
down_revision = '0004_deliveries'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('cohorts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('events_left_out', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('metrics', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('first_page', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('page_count', sa.Integer(), nullable=True))
    op.create_table('report_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'chunk')
    )


def downgrade():
    op.drop_table('report_parts')
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.drop_column('page_count')
        batch_op.drop_column('first_page')
        batch_op.drop_column('metrics')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('events_left_out')
        batch_op.drop_column('warnings')
        batch_op.drop_column('cohorts')
        batch_op.drop_column('options')
