"""Small values compressed from preset dictionaries: a student's input and metrics.

Nothing changes in the schema: from now on ``report_items.input_json`` and ``metrics`` values of
a few kilobytes or less are deflated from a preset dictionary (``reportgen.models.PRESETS``,
marked by their first three bytes), which makes a one-event student's ~140-byte input ~30 bytes
and its metrics ~35 instead of ~115 and ~215 under plain zlib. Downgrading rewrites those values
in the plain zlib form that the revisions before this one read.

The presets are imported from the models, not copied: a preset is never changed once a value
uses it (a new one gets a marker of its own, and ``PRESET_DICTIONARIES`` keeps the retired), so
what this revision reads stays readable.

Revision ID: 0015_preset_dictionaries
Revises: 0014_report_input

"""
import zlib

from alembic import op
import sqlalchemy as sa

from reportgen.models import COMPRESSED, PRESET_DICTIONARIES

# revision identifiers, used by Alembic.
revision = '0015_preset_dictionaries'
down_revision = '0014_report_input'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    """Every value deflated from a preset, written again as plain zlib."""
    bind = op.get_bind()
    items = sa.table('report_items', sa.column('id', sa.Integer), sa.column('input_json', sa.LargeBinary),
                     sa.column('metrics', sa.LargeBinary))
    for marker, dictionary in PRESET_DICTIONARIES.items():
        for column in (items.c.input_json, items.c.metrics):
            rows = bind.execute(sa.select(items.c.id, column).where(sa.func.substr(column, 1, 3) == marker)).fetchall()
            for item_id, value in rows:
                inflate = zlib.decompressobj(-15, zdict=dictionary)
                plain = inflate.decompress(bytes(value)[3:]) + inflate.flush()
                bind.execute(items.update().where(items.c.id == item_id)
                             .values({column.name: COMPRESSED + zlib.compress(plain)}))
