"""The problems of an upload in plain words, for people: what the upload form shows.

The API names each problem by its JSON path (``[1].events[0].unit``), counting from zero as
programs do, and a CSV's by row and column (``row 7, column unit``); it keeps doing so, since
clients read them. A teacher reads the same facts as sentences, counting from one and naming the
student when the data says who it is::

    [1].events[0].unit: is required      →  Student 2 (s-002), event 1: the unit is missing

and one mistake made sixty times is one line, not sixty::

    Events 1–60 of student 2 (s-002): the unit is missing (60 times)

:func:`in_plain_words` is the only place that turns paths into words. It reads the problems as
:mod:`.submission` and :mod:`.csv_import` write them; a path it does not know is still shown, with
every ``[n]`` counted from one, so nothing zero-based (or ``$``) reaches a person.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .submission import ROOT, is_envelope, shown

#: A student's id is shown up to this many characters (ids may be long).
ID_CHARS = 40
#: Past this many runs, a list of numbers ends in "…".
MAX_RUNS = 6

_STUDENT_PATH = re.compile(
    r"(?:students\.?)?(?:\[(?P<student>\d+)\]\.?)?(?:events\[(?P<event>\d+)\]\.?)?"
    r"(?P<field>student_id|namespace|events|unit|type|created_time)?")
_ROW = re.compile(r"row (?P<row>\d+)(?:, column (?P<column>.+))?")
#: A record of another platform's file, as the importers name it: ``statement 12``, ``event 3,
#: field eventTime``, ``line 7`` (JSON Lines); counted from 1 already.
_RECORD = re.compile(r"(?P<record>statement|event|line) (?P<number>\d+)(?:, field (?P<field>.+))?")
_VALUE_FIRST = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*") (.*)""", re.S)
_INDEX = re.compile(r"\[(\d+)\]")
_DUPLICATE_OF = re.compile(r"(?:students)?\[(\d+)\]")
_FIELDS = {
    "student_id": "the student id", "namespace": "the namespace", "events": "the events",
    "unit": "the unit", "type": "the type", "created_time": "the time (created_time)",
}
_OPTIONS = {
    "options": "Report options", "options.units": "Unit order", "options.window": "Date window",
    "options.window.from": "Date window, from", "options.window.to": "Date window, to",
    "options.idle_cutoff_minutes": "Idle cutoff", "options.event_log": "Event log",
}


@dataclass
class _Group:
    """Problems that differ only in one number (an event, a student, a row): one line."""

    where: tuple
    subject: str | None
    reason: str
    cell: bool = False
    numbers: list[int] = field(default_factory=list)
    values: list[str] = field(default_factory=list)


def _runs(numbers: list[int]) -> str:
    """``1–3, 7 and 9``: numbers (counting from one) as runs, the list cut after ``MAX_RUNS``."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    words = [f"{first}" if first == last else f"{first}–{last}" for first, last in runs]
    if len(words) > MAX_RUNS:
        return ", ".join(words[:MAX_RUNS]) + ", …"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _students(document: Any) -> Any:
    """The students of a (not necessarily valid) document: a list, one object, or anything."""
    return document["students"] if is_envelope(document) else document


def _who(students: Any, index: int | None) -> str:
    """`` (s-002)`` when the student at ``index`` (``None``: the only one) has a usable id."""
    student = students if index is None else students[index] if (
        isinstance(students, list) and index < len(students)) else None
    student_id = student.get("student_id") if isinstance(student, dict) else None
    if not isinstance(student_id, str) or not student_id.strip():
        return ""
    student_id = shown(student_id.strip())
    return f" ({student_id[:ID_CHARS - 1]}…)" if len(student_id) > ID_CHARS else f" ({student_id})"


def _sentence(subject: str | None, reason: str, value: str | None = None, *, cell: bool = False) -> str:
    """A reason as the API words it (``is required``, ``must be …``, ``'x' is not …``) said of
    ``subject``; ``value``, when given, is the quoted value the reason started with."""
    if subject is None:
        return reason
    plural = subject.endswith("s")
    if reason == "is required":
        return f"{subject} {'are' if plural else 'is'} {'empty' if cell else 'missing'}"
    if reason == "must not be empty":
        return f"{subject} {'are' if plural else 'is'} empty"
    if value is not None:
        return f"{value} {reason}" if cell else f"{subject} {value} {reason}"
    if reason.startswith(("must ", "is ", "contains ", "duplicates ", "has ", "are ")):
        return f"{subject} {reason}"
    return f"{subject}: {reason}"


def _other_place(path: str) -> str:
    """Words for a path that is not a student's, an event's or a row's."""
    if path == ROOT:
        return "The data"
    if path == "students":
        return "The students"
    if path in _OPTIONS:
        return _OPTIONS[path]
    if path == "email":
        return "Email"
    match = re.fullmatch(r"email\[(\d+)\]", path)
    if match:
        return f"Email address {int(match.group(1)) + 1}"
    match = re.fullmatch(r"options\.units\.(.+?)(?:\[(\d+)\])?", path)
    if match:
        namespace = "no namespace" if match.group(1) == '""' else match.group(1)
        unit = f", unit {int(match.group(2)) + 1}" if match.group(2) else ""
        return f"Unit order for {namespace}{unit}"
    return _INDEX.sub(lambda index: f" {int(index.group(1)) + 1}", path).replace(".", " ").strip().capitalize()


def _place(path: str) -> tuple[tuple, int | None, str | None, bool]:
    """How a problem's path groups: ``(kind, …)``, the number that varies within the group
    (counting from one), the subject of the sentence, and whether it is a CSV cell."""
    row = _ROW.fullmatch(path)
    if row:
        column = row.group("column")
        return ("row", column), int(row.group("row")), "the cell" if column else None, True
    record = _RECORD.fullmatch(path)
    if record:
        return ("record", record.group("record"), record.group("field")), int(record.group("number")), None, False
    match = _STUDENT_PATH.fullmatch(path) if path not in ("", "students") else None
    if match and any(match.groups()):  # without a [n], only a single student object has these paths
        student = None if match.group("student") is None else int(match.group("student"))
        event, name = match.group("event"), match.group("field")
        if event is not None and name in (None, "unit", "type", "created_time"):
            return ("event", student, name), int(event) + 1, _FIELDS.get(name, "the event"), False
        if event is None and name in (None, "student_id", "namespace", "events"):
            subject = _FIELDS.get(name, "this entry")
            if student is None:
                return ("student", None, name), None, subject, False
            return ("students", name), student + 1, subject, False
    return ("other", path), None, None, False


def _where(group: _Group, students: Any) -> str:
    kind, numbers, many = group.where[0], group.numbers, len(set(group.numbers)) > 1
    if kind == "row":
        column = group.where[1]
        rows = f"Rows {_runs(numbers)}" if many else f"Row {numbers[0]}"
        return f"{rows}, column {column}" if column else rows
    if kind == "record":
        record, name = group.where[1], group.where[2]
        where = (f"{record.capitalize()}s {_runs(numbers)}" if many else f"{record.capitalize()} {numbers[0]}")
        return f"{where}, field {name}" if name else where
    if kind == "event":
        student = group.where[1]
        whose = ("the student" + _who(students, None) if student is None
                 else f"student {student + 1}{_who(students, student)}")
        if many:
            return f"Events {_runs(numbers)} of {whose}"
        return f"{whose[0].upper()}{whose[1:]}, event {numbers[0]}"
    if kind == "students":
        if many:
            return f"Students {_runs(numbers)}"
        return f"Student {numbers[0]}{_who(students, numbers[0] - 1)}"
    if kind == "student":
        return "The student" + _who(students, None)
    return _other_place(group.where[1])


def _reason(reason: str, students: Any) -> str:
    """A reason with any zero-based student path in it (``duplicates [0] …``) in words."""
    if reason.startswith("duplicates "):
        return _DUPLICATE_OF.sub(
            lambda index: f"student {int(index.group(1)) + 1}{_who(students, int(index.group(1)))}", reason, count=1)
    return reason


def in_plain_words(details: Mapping[str, str], document: Any = None, not_shown: int = 0) -> list[str]:
    """The problems of :class:`.submission.SubmissionError` ``details`` (JSON paths, a
    CSV's rows and columns, or the records of another platform's file) as sentences counting from one, each group of problems that differ
    only in the event, student or row as one line with a count; ``document`` (the decoded JSON,
    valid or not) gives the students' ids. ``not_shown`` problems that were only counted end
    the list as one line."""
    students = _students(document)
    groups: dict[tuple, _Group] = {}
    for path, reason in details.items():
        where, number, subject, cell = _place(path)
        reason = _reason(reason, students)
        value = None
        quoted = _VALUE_FIRST.fullmatch(reason) if subject else None
        if quoted:
            value, reason = quoted.groups()
        key = (where, subject, reason) if number is not None else (where, subject, reason, len(groups))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(where, subject, reason, cell)
        if number is not None:
            group.numbers.append(number)
        if value is not None:
            group.values.append(value)
    lines = []
    for group in groups.values():
        if group.where in (("other", ROOT), ("other", "students")) and not group.reason[:1].islower():
            lines.append(group.reason)  # already a sentence of its own (an empty upload)
            continue
        if group.where in (("other", ROOT), ("other", "students")) and group.reason.startswith("must "):
            lines.append(f"{_where(group, students)} {group.reason}")
            continue
        count = max(len(group.numbers), 1)
        same_value = len(set(group.values)) == 1
        sentence = _sentence(group.subject, group.reason, group.values[0] if same_value else None, cell=group.cell)
        if count > 1:
            first = "" if same_value or not group.values else f"; the first is {group.values[0]}"
            sentence += f" ({count} times{first})"
        lines.append(f"{_where(group, students)}: {sentence}")
    if not_shown:
        lines.append(f"… and {not_shown:,} more problem{'s' if not_shown != 1 else ''} not listed here.")
    return lines
