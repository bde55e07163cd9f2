"""Uploads in the shapes learning platforms write — xAPI statements, Moodle log downloads,
Caliper events — read into reportgen's own document, so nobody writes a converter first.

:func:`.detect.choose` picks the format; :data:`READERS` reads each imported one into an
:class:`.common.Imported`, whose :meth:`~.common.Imported.upload` validates it as any upload is.
Pure standard library (``json``, ``csv``, ``zoneinfo``), like the rest of :mod:`reportgen.domain`.
"""
from __future__ import annotations

from collections.abc import Callable

from .caliper import read_caliper
from .common import DEFAULT_IMPORT_OPTIONS, FORMAT_NAMES, FORMATS, IMPORTED_FORMATS, Imported, ImportOptions
from .common import parse_import_options
from .detect import choose, detect
from .moodle import read_moodle
from .xapi import read_xapi

READERS: dict[str, Callable[..., Imported]] = {"xapi": read_xapi, "moodle": read_moodle, "caliper": read_caliper}


def read_imported(raw: str | bytes, format_name: str, options: ImportOptions = DEFAULT_IMPORT_OPTIONS) -> Imported:
    """``raw`` read as ``format_name`` (one of :data:`.common.IMPORTED_FORMATS`)."""
    return READERS[format_name](raw, options)


__all__ = ["DEFAULT_IMPORT_OPTIONS", "FORMATS", "FORMAT_NAMES", "IMPORTED_FORMATS", "READERS", "ImportOptions",
           "Imported", "choose", "detect", "parse_import_options", "read_imported"]
