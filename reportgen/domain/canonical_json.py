"""A JSON document's content as one spelling, so that two requests can be compared by what they
say rather than how they were typed: the same JSON with other whitespace, line breaks or key
order is the same request to an ``Idempotency-Key`` (issue 19).

Keys are sorted, there is no whitespace, and characters are written as they are (UTF-8). The
text is made in pieces, one per student at most: ``json.JSONEncoder.iterencode`` would keep the
memory as low but runs the pure-Python encoder, while ``encode`` of the whole document holds it
all at once. Measured on the 2-core development machine (``bench/idempotency_bench.py``,
BENCHMARKS.md) for a 19.3 MiB upload of 1,000 students x 200 events: these pieces 0.27 s and
0.1 MiB, whole-document ``encode`` 0.72 s and 26.7 MiB, ``iterencode`` 1.40 s, against 0.18 s
(and 81 MiB) for the parse the submit does anyway and 0.01 s for the raw bytes' hash.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

#: How many levels of arrays and objects are cut into pieces: an envelope, its ``students``, a student.
PIECE_DEPTH = 3


def canonical_pieces(value: Any, depth: int = PIECE_DEPTH) -> Iterator[str]:
    """The canonical text of ``value`` (a parsed JSON document), in pieces whose concatenation is
    ``ENCODER.encode(value)``."""
    if depth and isinstance(value, list):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from canonical_pieces(item, depth - 1)
        yield "]"
    elif depth and isinstance(value, dict):
        yield "{"
        for index, key in enumerate(sorted(value)):
            if index:
                yield ","
            yield ENCODER.encode(key) + ":"
            yield from canonical_pieces(value[key], depth - 1)
        yield "}"
    else:
        yield ENCODER.encode(value)
