"""A class's roster: who the ids are. ``[{"student_id", "name", "email"}]`` as JSON, or a CSV
with those columns (``name`` and ``email`` optional), read into :class:`RosterEntry` values
with every problem named by path at once, like an upload.

Why here and not in the history: a roster is read from what a teacher sends, and its rules are
the domain's (the bounds of :mod:`.limits`, the same address check as an upload's ``email``).

* A roster replaces the previous one whole; a student missing from it keeps its bare id.
* At most :data:`MAX_ROSTER_ENTRIES` students (a school's year group is a few hundred; 10,000
  rows are ~1 MB of CSV and store in well under a second on SQLite).
* A CSV cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return first) is refused, not stored: the roster's names are printed in reports and
  exported again as CSV, and a name is never a formula. A cell the CSV export protected with
  an apostrophe (``'=SUM``) is read back as it was.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .csv_export import FORMULA_PREFIXES
from .csv_import import restore
from .limits import MAX_CHARS, too_long
from .submission import Problems, raise_if, text_problem, type_name

MAX_ROSTER_ENTRIES = 10_000
COLUMNS = ("student_id", "name", "email")
MAX_EMAIL_CHARS = 254


@dataclass(frozen=True, slots=True)
class RosterEntry:
    student_id: str
    name: str | None = None
    email: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"student_id": self.student_id, "name": self.name, "email": self.email}


def _text(value: Any, path: str, field: str, errors: Problems, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            errors[path] = "is required"
        return None
    if not isinstance(value, str):
        errors[path] = f"must be a string, not {type_name(value)}"
        return None
    value = value.strip()
    problem = ("must not be empty" if not value else text_problem(value) or too_long(value, field))
    if problem:
        errors[path] = problem
        return None
    return value


def _email(value: Any, path: str, errors: Problems) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        errors[path] = f"must be an email address, not {type_name(value)}"
        return None
    if len(value) > MAX_EMAIL_CHARS or any(char in value for char in "\r\n\x00"):
        errors[path] = f"must be one email address of at most {MAX_EMAIL_CHARS} characters, without line breaks"
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        errors[path] = f"{value[:80]!r} is not a valid email address: {exc}"
        return None


def parse_roster(document: Any) -> list[RosterEntry]:
    """The entries of a JSON roster (an array of objects), or :class:`SubmissionError` naming
    every problem by path (``[3].email``)."""
    errors = Problems()
    if not isinstance(document, list):
        errors["$"] = f"must be an array of {{\"student_id\", \"name\", \"email\"}} objects, not {type_name(document)}"
        raise_if(errors, "roster")
    if len(document) > MAX_ROSTER_ENTRIES:
        errors["$"] = f"has {len(document):,} students; a roster may have at most {MAX_ROSTER_ENTRIES:,}"
        raise_if(errors, "roster")
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(document):
        path = f"[{index}]"
        if not isinstance(item, dict):
            errors[path] = f"must be an object with student_id, name and email, not {type_name(item)}"
            continue
        for key in sorted(set(item) - set(COLUMNS)):
            errors[f"{path}.{str(key)[:60]}"] = "is not a roster field; use student_id, name and email"
        student_id = _text(item.get("student_id"), f"{path}.student_id", "student_id", errors, required=True)
        name = _text(item.get("name"), f"{path}.name", "name", errors, required=False)
        email = _email(item.get("email"), f"{path}.email", errors)
        if student_id is None:
            continue
        if student_id in seen:
            errors[f"{path}.student_id"] = f"is listed twice (first at [{seen[student_id]}])"
            continue
        seen[student_id] = index
        entries.append(RosterEntry(student_id, name, email))
    raise_if(errors, "roster")
    return entries


def read_roster_csv(raw: bytes | str) -> list[dict[str, str]]:
    """A CSV roster as the JSON array :func:`parse_roster` reads; formula cells refused by row
    and column (``row 3, column name``)."""
    errors = Problems()
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            errors["$"] = f"is not UTF-8 ({exc.reason} at byte {exc.start + 1}); save the file as \"CSV UTF-8\""
            raise_if(errors, "roster")
    text = raw.removeprefix("\ufeff")
    head = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=head.count) if any(d in head for d in ",;\t") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(_bounded(reader))
    except csv.Error as exc:
        errors["$"] = f"cannot be read as CSV ({exc})"
        raise_if(errors, "roster")
    if not rows:
        errors["row 1"] = "is empty; the first row must name the columns student_id, name, email"
        raise_if(errors, "roster")
    header = [cell.strip().lower() for cell in rows[0]]
    if "student_id" not in header:
        errors["row 1"] = "has no student_id column; the first row must name the columns student_id, name, email"
        raise_if(errors, "roster")
    columns = {name: header.index(name) for name in COLUMNS if name in header}
    document = []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        item = {}
        for name, index in columns.items():
            cell = cells[index] if index < len(cells) else ""
            if cell.startswith(FORMULA_PREFIXES) and not _is_number(cell):
                errors[f"row {number}, column {name}"] = (
                    f"starts with {cell[:1]!r}, which a spreadsheet runs as a formula; a roster holds names and "
                    "addresses, not formulas")
                continue
            item[name] = restore(cell)
        document.append(item)
    raise_if(errors, "roster")
    return document


def _bounded(reader):
    for number, row in enumerate(reader):
        if number > MAX_ROSTER_ENTRIES + 1:
            errors = Problems()
            errors["$"] = f"has more than {MAX_ROSTER_ENTRIES:,} rows; a roster may have at most {MAX_ROSTER_ENTRIES:,}"
            raise_if(errors, "roster")
        if len(row) > 3 * len(COLUMNS) or any(len(cell) > 4 * MAX_CHARS["name"] for cell in row):
            errors = Problems()
            errors[f"row {number + 1}"] = "has too many or too long cells for a roster (student_id, name, email)"
            raise_if(errors, "roster")
        yield row


def _is_number(cell: str) -> bool:
    """``-5`` is an id, not a formula."""
    try:
        float(cell)
    except ValueError:
        return False
    return True
