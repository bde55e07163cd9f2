"""Students cut into pieces: a long PDF event log is rendered by several jobs.

A student records how many pieces its document has; a report part is now one piece of a
chunk (piece 0 is the chunk's own document), stored empty until its job fills it, with the
attempts of that job.

Revision ID: 0006_report_pieces
Revises: 0005_report_analytics

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_report_pieces'
down_revision = '0005_report_analytics'
branch_labels = None
depends_on = None


#: 0005 left the unique constraint unnamed: PostgreSQL named it, SQLite did not, so on SQLite
#: batch mode names it through this convention when it copies the table.
SQLITE_NAMES = {"uq": "%(table_name)s_%(column_0_N_name)s_key"}


def _parts_table():
    naming = SQLITE_NAMES if op.get_bind().dialect.name == "sqlite" else None
    return op.batch_alter_table('report_parts', schema=None, naming_convention=naming)


def upgrade():
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pieces', sa.Integer(), server_default='1', nullable=False))
    with _parts_table() as batch_op:
        batch_op.add_column(sa.Column('piece', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=True)
        batch_op.alter_column('size', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('report_parts_report_id_chunk_key', type_='unique')
        batch_op.create_unique_constraint('report_parts_report_id_chunk_piece_key', ['report_id', 'chunk', 'piece'])


def downgrade():
    op.execute("DELETE FROM report_parts WHERE piece > 0 OR content IS NULL")
    with _parts_table() as batch_op:
        batch_op.drop_constraint('report_parts_report_id_chunk_piece_key', type_='unique')
        batch_op.create_unique_constraint('report_parts_report_id_chunk_key', ['report_id', 'chunk'])
        batch_op.alter_column('size', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('started_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('piece')
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.drop_column('pieces')
