"""Uploads in the shapes learning platforms write — xAPI statements, Moodle log downloads,
Caliper events — read into reportgen's own document, so nobody writes a converter first.

:func:`.detect.choose` picks the format; :func:`read_import` reads an imported one and validates
it as any upload is (:func:`..upload.parse_upload`), with the summary of what was read. Pure
standard library (``json``, ``csv``, ``zoneinfo``), like the rest of :mod:`reportgen.domain`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..submission import gc_paused
from ..upload import Upload
from .caliper import read_caliper
from .common import (
    DEFAULT_IMPORT_OPTIONS, FORMAT_NAMES, FORMATS, IMPORTED_FORMATS, Imported, ImportOptions, check_import_size,
    input_words, own_input, parse_import_options,
)
from .detect import choose, detect
from .moodle import read_moodle
from .xapi import read_xapi

READERS: dict[str, Callable[..., Imported]] = {"xapi": read_xapi, "moodle": read_moodle, "caliper": read_caliper}


def read_imported(raw: str | bytes, format_name: str, options: ImportOptions = DEFAULT_IMPORT_OPTIONS) -> Imported:
    """``raw`` read as ``format_name`` (one of :data:`.common.IMPORTED_FORMATS`), the garbage
    collector paused while the file's objects are made (:func:`..submission.gc_paused`: a 20 MiB
    xAPI file read in 0.33 s of CPU instead of 0.98 s)."""
    with gc_paused():
        return READERS[format_name](raw, options)


def read_import(raw: str | bytes, format_name: str, import_options: ImportOptions = DEFAULT_IMPORT_OPTIONS, *,
                object_limit: int | None = None, recipients: Any = None, options: Any = None,
                unit_order: Sequence[str] = (), **kwargs: Any) -> tuple[Upload, dict[str, Any]]:
    """The upload an imported file stands for, and the summary of what was read: its size
    checked first (``object_limit``: REPORTGEN_MAX_UPLOAD_OBJECTS), then read, then validated
    with ``recipients`` and ``options`` (``unit_order``, a form's, orders every namespace)."""
    if object_limit is not None:
        check_import_size(raw, format_name, object_limit)
    imported = read_imported(raw, format_name, import_options)
    if unit_order:
        options = {**(options or {}), "units": {student["namespace"]: list(unit_order)
                                                for student in imported.students}}
    return imported.upload(recipients, options, **kwargs), imported.summary()


__all__ = ["DEFAULT_IMPORT_OPTIONS", "FORMATS", "FORMAT_NAMES", "IMPORTED_FORMATS", "READERS", "ImportOptions",
           "Imported", "choose", "detect", "input_words", "own_input", "parse_import_options", "read_import",
           "read_imported"]
