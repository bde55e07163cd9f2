"""A report's sequences stored compressed, as a student's metrics are since 0007.

``reports.sequences`` (the sequences of a report's JSON metadata) was uncompressed JSON: 0.13 MB
of the 0.97 MB that 2,000 one-event students cost as a PDF, for an upload of 0.27 MB (issue 24:
storage at most three times the upload). It becomes bytes, written zlib-compressed from now on
(~5 KB for those students). Rows from before keep their JSON text, as UTF-8 bytes (PostgreSQL
converts it, SQLite's batch copy casts it to a BLOB), and read back unchanged; they are not
compressed after the fact.

Revision ID: 0022_compressed_sequences
Revises: 0021_pg_event_layout

"""
import json
import zlib

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_compressed_sequences'
down_revision = '0021_pg_event_layout'
branch_labels = None
depends_on = None


#: The marker of a compressed value (reportgen.models.COMPRESSED), written out so that this
#: migration keeps working whatever the models become.
COMPRESSED = b"\x00rgz1"


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.alter_column('sequences', existing_type=sa.JSON(), type_=sa.LargeBinary(), existing_nullable=True,
                              postgresql_using="convert_to(sequences::text, 'UTF8')")


def _text(value) -> str:
    if isinstance(value, str):
        return value
    value = bytes(value)
    return (zlib.decompress(value[len(COMPRESSED):]) if value.startswith(COMPRESSED) else value).decode("utf-8")


def downgrade():
    """Back to JSON: every report's sequences decompressed."""
    bind = op.get_bind()
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sequences_json', sa.JSON(), nullable=True))
    sequences_json = sa.table('reports', sa.column('id', sa.String), sa.column('sequences_json', sa.JSON))
    report_ids = bind.scalars(sa.text("SELECT id FROM reports WHERE sequences IS NOT NULL")).all()
    for report_id in report_ids:  # one report's sequences in memory at a time
        value = bind.scalar(sa.text("SELECT sequences FROM reports WHERE id = :id"), {"id": report_id})
        bind.execute(sequences_json.update().where(sequences_json.c.id == report_id)
                     .values(sequences_json=json.loads(_text(value))))
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('sequences')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.alter_column('sequences_json', new_column_name='sequences', existing_type=sa.JSON())
