"""A student's metrics deflated from a preset that knows a period report's activity.

Nothing changes in the schema. From now on a small ``report_items.metrics`` value is deflated
from a preset dictionary (marker ``\\x00dn``, ``reportgen.models.PRESETS``) that adds the keys and
shape of the activity over time (per day or week, beside the class median) that period reports
and spans of more than 7 days carry: a two-event student spread over ten days stores its metrics
in 112 bytes instead of 231, which keeps 2,000 of them as a PDF within 3x their upload (issue 24).
Values written with 0015's preset (``\\x00dm``) stay as they are and read as before. Downgrading
rewrites the new preset's values in the plain zlib form every revision before reads.

Revision ID: 0023_metrics_activity_preset
Revises: 0022_compressed_sequences

"""
import zlib

from alembic import op
import sqlalchemy as sa

from reportgen.models import COMPRESSED, PRESET_DICTIONARIES

#: This revision's metrics preset, by its marker: the dictionary is never changed once values use it.
MARKER = b"\x00dn"

# revision identifiers, used by Alembic.
revision = '0023_metrics_activity_preset'
down_revision = '0022_compressed_sequences'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    """Every metrics value deflated from this revision's preset, written again as plain zlib."""
    marker, dictionary = MARKER, PRESET_DICTIONARIES[MARKER]
    bind = op.get_bind()
    items = sa.table('report_items', sa.column('id', sa.Integer), sa.column('metrics', sa.LargeBinary))
    rows = bind.execute(sa.select(items.c.id, items.c.metrics)
                        .where(sa.func.substr(items.c.metrics, 1, 3) == marker)).fetchall()
    for item_id, value in rows:
        inflate = zlib.decompressobj(-15, zdict=dictionary)
        plain = inflate.decompress(bytes(value)[3:]) + inflate.flush()
        bind.execute(items.update().where(items.c.id == item_id).values(metrics=COMPRESSED + zlib.compress(plain)))
