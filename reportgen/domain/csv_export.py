"""CSV export, safe to open in a spreadsheet: the event log (one row per event in sequence
order, the report's stored document), and two summary tables made from the stored figures
when they are downloaded: one row per student (:data:`STUDENT_HEADER`: figures, percentile
ranks, flags and their reasons) and one row per student and unit they reached
(:data:`UNIT_HEADER`), the tables a teacher sorts and filters.

Cells that a spreadsheet would treat as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are prefixed with an apostrophe, as OWASP recommends, so
``=HYPERLINK(…)`` in a student id stays text. A negative unit such as ``-1`` therefore
reads ``'-1`` in the file. Times are ISO 8601 with their offset, in the report's time zone
(``Z`` for UTC, the default).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo

from .analytics import FLAG_NAMES, is_save, is_submission
from .figures import UTC, format_duration
from .sequencing import StudentSequence, sequence_students
from .submission import Student

HEADER = ("student_id", "namespace", "position", "created_time", "type", "unit", "label")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: ``?table=`` of a CSV report's download: the event log (the default) or a summary table.
TABLES = ("events", "students", "units")
STUDENT_HEADER = (
    "number", "student_id", "namespace", "events", "units_reached", "time_on_task_seconds", "time_on_task",
    "active_days", "revisits", "first_event", "last_event", "events_rank", "time_on_task_rank", "revisits_rank",
    "flags", "flag_reasons", "distance_from_class", "name",
)
UNIT_HEADER = (
    "number", "student_id", "namespace", "label", "unit", "events", "visits", "revisits", "time_on_task_seconds",
    "time_on_task", "saves", "submissions", "first_touch", "last_touch",
)


def neutralise(cell: str) -> str:
    """Text a spreadsheet will show as text, never evaluate."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def event_time(sequenced, where: tzinfo = UTC) -> str:
    """An event's time, ISO 8601 to the millisecond in ``where`` (``Z`` for UTC); empty for none."""
    moment = sequenced.event.created_at
    if moment is None:
        return ""
    return moment.astimezone(where).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def student_rows(sequence: StudentSequence, where: tzinfo = UTC):
    student = sequence.student
    for item in sequence.events:
        yield (
            neutralise(student.student_id),
            neutralise(student.namespace),
            str(item.position),
            event_time(item, where),
            neutralise(item.event.type or ""),
            neutralise(item.event.unit),
            item.label,
        )


def iso_in(value: str | None, where: tzinfo = UTC) -> str:
    """A stored ISO 8601 UTC time (``…Z``) in ``where``, to the millisecond; empty for none."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(where)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _count(types: Mapping[str, int], kind) -> int:
    return sum(count for name, count in types.items() if kind(name))


def student_table_row(number: int, student_id: str, namespace: str, metrics: Mapping,
                      where: tzinfo = UTC, name: str = "") -> tuple[str, ...]:
    """One student's row of :data:`STUDENT_HEADER` from the metrics stored for them; ``name``
    is the student's name (a class's roster, ``options.student_names``), last so that columns
    read by position before it came stay where they were."""
    ranks = metrics["percentile_ranks"]
    return (
        str(number), neutralise(student_id), neutralise(namespace), str(metrics["events"]),
        str(metrics["unit_count"]), str(metrics["time_on_task_seconds"]),
        format_duration(metrics["time_on_task_seconds"]), str(metrics["active_days"]), str(metrics["revisits"]),
        iso_in(metrics["first"], where), iso_in(metrics["last"], where),
        str(ranks["events"]), str(ranks["time_on_task"]), str(ranks["revisits"]),
        "; ".join(FLAG_NAMES.get(flag["code"], flag["code"]) for flag in metrics["flags"]),
        neutralise("; ".join(flag["text"] for flag in metrics["flags"])),
        f"{metrics.get('distance', 0):.2f}",
        neutralise(name),
    )


def unit_table_rows(number: int, student_id: str, namespace: str, metrics: Mapping,
                    where: tzinfo = UTC) -> Iterable[tuple[str, ...]]:
    """A student's rows of :data:`UNIT_HEADER`, one per unit they reached, in label order."""
    for unit in metrics["units"]:
        yield (
            str(number), neutralise(student_id), neutralise(namespace), unit["label"], neutralise(unit["unit"]),
            str(unit["events"]), str(unit["visits"]), str(unit["revisits"]), str(unit["time_on_task_seconds"]),
            format_duration(unit["time_on_task_seconds"]), str(_count(unit["types"], is_save)),
            str(_count(unit["types"], is_submission)), iso_in(unit["first"], where), iso_in(unit["last"], where),
        )


def render_table(table: str, students: Iterable[tuple[int, str, str, Mapping]], where: tzinfo = UTC,
                 name_of: Callable[[str, str], str] = lambda namespace, student_id: "") -> bytes:
    """The ``students`` or ``units`` table of a report's stored figures (``students``: 1-based
    number, id, namespace and metrics, in upload order) as UTF-8 CSV with CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if table == "students":
        writer.writerow(STUDENT_HEADER)
        for number, student_id, namespace, metrics in students:
            writer.writerow(student_table_row(number, student_id, namespace, metrics, where,
                                              name_of(namespace, student_id)))
    elif table == "units":
        writer.writerow(UNIT_HEADER)
        for number, student_id, namespace, metrics in students:
            writer.writerows(unit_table_rows(number, student_id, namespace, metrics, where))
    else:
        raise ValueError(f"no summary table {table!r}; there are students and units")
    return buffer.getvalue().encode("utf-8")


def render_csv(students: list[Student], labels: dict[str, dict[str, str]] | None = None,
               where: tzinfo = UTC) -> bytes:
    """UTF-8 CSV with a header row and CRLF line ends (RFC 4180), times in ``where``."""
    _, sequences = sequence_students(students, labels)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for sequence in sequences:
        writer.writerows(student_rows(sequence, where))
    return buffer.getvalue().encode("utf-8")
