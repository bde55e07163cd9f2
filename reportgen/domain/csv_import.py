"""CSV import: the layout reportgen exports, read back as the document a JSON upload would be.

Teachers keep their data in spreadsheets, so the upload form and the API take the CSV that
:mod:`.csv_export` writes (``student_id, namespace, position, created_time, type, unit, label``)
as well as JSON. This module only turns the table into the very document a JSON upload
decodes to (one ``{"student_id", "namespace", "events": […]}`` per student) and hands it to
:func:`.upload.parse_upload`, so every rule, limit and message of the format stays in one
place; it then says *where* each problem is in the file (``row 7, column created_time``)
instead of the JSON path (``[1].events[3].created_time``), which :mod:`.plain_words` turns
into sentences for the form, grouped like a JSON upload's. Rows are counted as a spreadsheet
numbers them: the header is row 1, a cell spanning lines is one row.

What the CSV layout itself decides:

* A header row is required and must name ``student_id`` and ``unit``; ``namespace``,
  ``created_time`` and ``type`` are optional; other columns (``position``, ``label``, anything
  a teacher adds) are ignored. Names are matched without regard to case or surrounding spaces.
  An ``id`` column is ignored too, not read as the events' ids (which a class's history would
  take for duplicates): a spreadsheet's ``id`` is as often the student's or the row's number.
* UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one). The delimiter is
  whichever of comma, semicolon (Excel in many European locales) or tab (cells pasted from a
  spreadsheet) the header line has most of.
* Each row is one event; rows with the same ``student_id`` and ``namespace`` are one student,
  in the order of their first row, events in row order. Rows whose cells are all empty are
  skipped (spreadsheets leave them at the end). An empty cell means "not given": no type, no
  time, and for ``unit`` or ``student_id`` the format's "is required".
* The export's protection against formula injection is undone: a cell starting with an
  apostrophe followed by ``=``, ``+``, ``-``, ``@``, a tab or a carriage return loses the
  apostrophe (``'-1`` is unit ``-1`` again), so an exported report uploads as it was made.
  A value that itself began with such an apostrophe does not survive the round trip.
* Envelope fields (``email``, ``options``) have no place in a table; callers pass them in.

Pure standard library, no Flask and no I/O, like the rest of :mod:`reportgen.domain`: the API and
the upload form share it, and it runs and is tested where no app exists.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .csv_export import FORMULA_PREFIXES
from .submission import ROOT, SubmissionError, TooLarge, check_storable
from .upload import Upload, parse_upload

REQUIRED_COLUMNS = ("student_id", "unit")
OPTIONAL_COLUMNS = ("namespace", "created_time", "type")
DELIMITERS = (",", ";", "\t")
HEADER_ROW = 1
_FIRST_DATA_ROW = HEADER_ROW + 1
_STUDENT_PATH = re.compile(r"\[(\d+)\](?:\.events\[(\d+)\])?(?:\.(\w+))?")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class MalformedCSV(SubmissionError):
    """The body cannot be read as reportgen's CSV layout; ``details`` maps ``row N`` to why."""

    def __init__(self, row: int, reason: str):
        super().__init__("malformed CSV", {location(row): reason})


def location(row: int, column: str | None = None) -> str:
    """``row 7`` or ``row 7, column created_time``: where a problem is, as the API names it."""
    return f"row {row}, column {column}" if column else f"row {row}"


def restore(cell: str) -> str:
    """The cell before :func:`.csv_export.neutralise` put an apostrophe in front of it."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


def looks_like_csv(raw: str | bytes) -> bool:
    """Whether a pasted or uploaded text is meant as CSV: not JSON (which starts with ``{`` or
    ``[``) and its first line names ``student_id``, as a header of this layout must."""
    head = raw[:4096]
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    head = head.lstrip("\ufeff \t\r\n")
    if head.startswith(("{", "[")):
        return False
    return "student_id" in head.split("\n", 1)[0].lower()


#: What a file that is not UTF-8 is told to do, after where it stopped being UTF-8.
SAVE_AS_UTF8 = "; save the file as UTF-8 (in Excel: \"CSV UTF-8\")"


def decode_csv(raw: str | bytes, advice: str = SAVE_AS_UTF8) -> str:
    """The text of a CSV file without its byte-order mark; :class:`MalformedCSV` naming the row
    where it is not UTF-8, followed by ``advice``."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = raw.count(b"\n", 0, exc.start) + 1
        raise MalformedCSV(row, f"is not UTF-8 ({exc.reason} at byte {exc.start + 1}){advice}") from None


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most (Excel re-saves with ``;`` in many locales); a
    comma when it has none."""
    best = max(DELIMITERS, key=header_line.count)
    return best if header_line.count(best) else ","


def _columns(header: list[str], delimiter: str) -> dict[str, int]:
    """The index of each known column; :class:`MalformedCSV` unless the required ones are there."""
    if not any(cell.strip() for cell in header):
        raise MalformedCSV(HEADER_ROW, "is empty; the first row must be a header naming the columns "
                                       "(student_id, namespace, created_time, type, unit)")
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = cell.strip().lower()
        if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            continue
        if name in columns:
            raise MalformedCSV(HEADER_ROW, f"names the column {name} twice "
                                           f"(columns {columns[name] + 1} and {index + 1})")
        columns[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        found = ", ".join(cell.strip() for cell in header if cell.strip())[:200]
        raise MalformedCSV(HEADER_ROW, (
            f"the header has no {' and no '.join(missing)} column; the first row must name the columns "
            f"(student_id, namespace, created_time, type, unit) separated by a {_DELIMITER_NAMES[delimiter]}, "
            f"but it has: {found}"
        ))
    return columns


def _rows(text: str, delimiter: str):
    """``(row number, cells)`` of every row, with a :class:`MalformedCSV` in plain words for
    broken quoting."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=HEADER_ROW):
            yield number, cells
    except csv.Error as exc:
        reason = str(exc)
        if reason == "unexpected end of data":
            reason = 'has a quoted cell that is never closed: every " that opens a cell needs one that closes it'
        elif "expected after" in reason:
            reason = ('has text after the closing " of a quoted cell; inside a quoted cell, '
                      'write a quote as ""')
        else:
            reason = f"cannot be read as CSV ({reason})"
        raise MalformedCSV(number + 1, reason) from None


@dataclass(frozen=True, slots=True)
class CSVDocument:
    """A CSV upload as the JSON document it stands for, and the row of every event in it."""

    students: list[dict[str, Any]]
    """What :func:`.upload.parse_upload` takes: one object per student."""
    rows: list[list[int]]
    """Per student, the row of each of its events, in order (the first is where it starts)."""

    def where(self, path: str) -> str:
        """The row and column of a JSON path of :attr:`students`; other paths as they are."""
        if path == ROOT:
            return location(_FIRST_DATA_ROW)
        match = _STUDENT_PATH.fullmatch(path)
        if match is None:
            return path
        student, event, field = match.groups()
        rows = self.rows[int(student)]
        return location(rows[int(event)] if event is not None else rows[0], field)

    def upload(self, recipients: Any = None, options: Any = None) -> Upload:
        """:func:`.upload.parse_upload` of the students, problems named by row and column."""
        with self.by_row():
            return parse_upload(self.students, recipients, options)

    @contextmanager
    def by_row(self) -> Iterator[None]:
        """A :class:`SubmissionError` raised inside, its problems named by row and column."""
        try:
            yield
        except TooLarge:
            raise  # about the whole upload, not a row
        except SubmissionError as exc:
            details = {self.where(path): reason for path, reason in exc.details.items()}
            raise SubmissionError(exc.message, details, exc.not_shown) from None


def read_csv(raw: str | bytes) -> CSVDocument:
    """The students of a CSV in reportgen's layout; :class:`MalformedCSV` if it is not one."""
    text = decode_csv(raw)
    if not text or text.isspace():
        raise MalformedCSV(HEADER_ROW, "the CSV is empty; it needs a header row "
                                       "(student_id, namespace, created_time, type, unit) and one row per event")
    end = text.find("\n")
    delimiter = sniff_delimiter(text if end < 0 else text[:end])
    rows = _rows(text, delimiter)
    _, header = next(rows)
    columns = _columns(header, delimiter)
    width = max(columns.values()) + 1
    student_at, namespace_at, unit_at = columns["student_id"], columns.get("namespace"), columns["unit"]
    time_at, type_at = columns.get("created_time"), columns.get("type")

    students: list[dict[str, Any]] = []
    event_rows: list[list[int]] = []
    index_of: dict[tuple[str, str], int] = {}
    for number, cells in rows:
        if not any(cells):
            continue
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        student_id = restore(cells[student_at])
        namespace = restore(cells[namespace_at]) if namespace_at is not None else ""
        event: dict[str, Any] = {}
        unit = restore(cells[unit_at])
        if unit.strip():
            event["unit"] = unit
        if type_at is not None and cells[type_at]:
            event["type"] = restore(cells[type_at])
        if time_at is not None and cells[time_at].strip():
            event["created_time"] = restore(cells[time_at])
        key = (student_id, namespace)
        index = index_of.get(key) if student_id.strip() else None
        if index is None:
            student: dict[str, Any] = {"namespace": namespace, "events": []}
            if student_id.strip():
                student["student_id"] = student_id
                index_of[key] = len(students)
            index = len(students)
            students.append(student)
            event_rows.append([])
        students[index]["events"].append(event)
        event_rows[index].append(number)
    document = CSVDocument(students, event_rows)
    if "\x00" in text:
        with document.by_row():
            check_storable(students)
    return document


def parse_csv(raw: str | bytes, recipients: Any = None, options: Any = None) -> Upload:
    """Decode and validate a CSV upload in one step, as :func:`.submission.loads` and
    :func:`.upload.parse_upload` do for JSON."""
    return read_csv(raw).upload(recipients, options)
