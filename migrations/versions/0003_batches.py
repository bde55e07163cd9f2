"""Fan out reports per student: report_items, shared labels, chunk count and the batch summary.

Revision ID: 0003_batches
Revises: 0002_submissions

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_batches'
down_revision = '0002_submissions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Text(), nullable=False),
    sa.Column('namespace', sa.Text(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('input_json', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'position')
    )
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.create_index('ix_report_items_report_chunk', ['report_id', 'chunk'], unique=False)

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('labels', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('chunk_count', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('summary', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('assembly_queued_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('assembly_queued_at')
        batch_op.drop_column('summary')
        batch_op.drop_column('chunk_count')
        batch_op.drop_column('labels')

    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.drop_index('ix_report_items_report_chunk')

    op.drop_table('report_items')
