"""Store things once: the upload only per student (compressed), documents and metrics
compressed where that pays, and tombstones of purged reports.

``reports.input_json`` held the whole upload again beside every student's own copy: it is
emptied (a retry rebuilds the upload from the students). ``report_items.input_json`` becomes
bytes, written zlib-compressed from now on; rows from before keep their text as it is and
read back unchanged; so does each student's ``metrics`` JSON. ``purged_at``/``purge_reason`` mark a report whose input and documents
were deleted (expired or deleted on request).

Revision ID: 0007_store_once
Revises: 0006_report_pieces

"""
import json
import zlib

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_store_once'
down_revision = '0006_report_pieces'
branch_labels = None
depends_on = None


#: The marker of a compressed value (reportgen.models.COMPRESSED), written out so that this
#: migration keeps working whatever the models become.
COMPRESSED = b"\x00rgz1"


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('purge_reason', sa.String(length=16), nullable=True))
        batch_op.alter_column('input_json', existing_type=sa.Text(), nullable=True)
    op.execute("UPDATE reports SET input_json = NULL")
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.alter_column('input_json', existing_type=sa.Text(), type_=sa.LargeBinary(), existing_nullable=False,
                              postgresql_using="convert_to(input_json, 'UTF8')")
        batch_op.alter_column('metrics', existing_type=sa.JSON(), type_=sa.LargeBinary(), existing_nullable=True,
                              postgresql_using="convert_to(metrics::text, 'UTF8')")


def _text(value) -> str:
    if isinstance(value, str):
        return value
    value = bytes(value)
    return (zlib.decompress(value[len(COMPRESSED):]) if value.startswith(COMPRESSED) else value).decode("utf-8")


def downgrade():
    """Back to text: every student's input decompressed, and each report's upload rebuilt."""
    bind = op.get_bind()
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('input_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('metrics_json', sa.JSON(), nullable=True))
    uploads: dict[str, list] = {}
    rows = bind.execute(sa.text("SELECT id, report_id, input_json, metrics FROM report_items "
                                "ORDER BY report_id, position"))
    metrics_json = sa.table('report_items', sa.column('id', sa.Integer), sa.column('metrics_json', sa.JSON))
    for item_id, report_id, value, metrics in rows.fetchall():
        text = _text(value)
        bind.execute(sa.text("UPDATE report_items SET input_text = :text WHERE id = :id"), {"text": text, "id": item_id})
        if metrics is not None:
            bind.execute(metrics_json.update().where(metrics_json.c.id == item_id)
                         .values(metrics_json=json.loads(_text(metrics))))
        uploads.setdefault(report_id, []).extend(json.loads(text))
    for report_id, students in uploads.items():
        bind.execute(sa.text("UPDATE reports SET input_json = :text WHERE id = :id AND input_json IS NULL"),
                     {"text": json.dumps(students, ensure_ascii=False, separators=(",", ":")), "id": report_id})
    op.execute("UPDATE reports SET input_json = '[]' WHERE input_json IS NULL")
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.drop_column('input_json')
        batch_op.drop_column('metrics')
    with op.batch_alter_table('report_items', schema=None) as batch_op:
        batch_op.alter_column('input_text', new_column_name='input_json', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('metrics_json', new_column_name='metrics', existing_type=sa.JSON())
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.alter_column('input_json', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('purge_reason')
        batch_op.drop_column('purged_at')
