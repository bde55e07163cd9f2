"""CSV export: one row per event in sequence order, safe to open in a spreadsheet.

Cells that a spreadsheet would treat as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are prefixed with an apostrophe, as OWASP recommends, so
``=HYPERLINK(…)`` in a student id stays text. A negative unit such as ``-1`` therefore
reads ``'-1`` in the file.
"""
from __future__ import annotations

import csv
import io
from datetime import timezone

from .sequencing import StudentSequence, sequence_students
from .submission import Student

HEADER = ("student_id", "namespace", "position", "created_time", "type", "unit", "label")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Text a spreadsheet will show as text, never evaluate."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def iso_utc(sequenced) -> str:
    moment = sequenced.event.created_at
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def student_rows(sequence: StudentSequence):
    student = sequence.student
    for item in sequence.events:
        yield (
            neutralise(student.student_id),
            neutralise(student.namespace),
            str(item.position),
            iso_utc(item),
            neutralise(item.event.type or ""),
            neutralise(item.event.unit),
            item.label,
        )


def render_csv(students: list[Student], labels: dict[str, dict[str, str]] | None = None) -> bytes:
    """UTF-8 CSV with a header row and CRLF line ends (RFC 4180)."""
    _, sequences = sequence_students(students, labels)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for sequence in sequences:
        writer.writerows(student_rows(sequence))
    return buffer.getvalue().encode("utf-8")
