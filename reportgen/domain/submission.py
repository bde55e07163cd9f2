"""Parse and validate an uploaded submission into immutable student records.

Every problem is collected with its JSON path (``[2].events[5].created_time``) so a
caller can show all of them at once; nothing is returned unless everything is valid.

Whatever the input, the answer stays small and the checks stay in the domain: at most
``MAX_PROBLEMS`` problems are kept (the rest only counted, so 7 million bad events cost neither
memory nor a 250 MB response), each cut to a bounded length; times must fall in the range every
format can print (``FIRST_YEAR``..``LAST_YEAR`` in UTC); strings the databases cannot store (a
NUL) or that are not text (a lone UTF-16 surrogate) are refused by path; and JSON nested deeper
than the parser follows is malformed JSON, not a crash.
"""
from __future__ import annotations

import gc
import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .json_syntax import constant, culprit
from .limits import MAX_CHARS, MAX_UNITS_PER_STUDENT, MAX_UNITS_PER_UPLOAD, VALUES_PER_OBJECT, too_long

ROOT = "$"
_BLANK_BYTES = re.compile(rb"(?:\xef\xbb\xbf)?\s*")
_BLANK_TEXT = re.compile(r"\ufeff?\s*")
_INTEGER_UNIT = re.compile(r"-?[0-9]+")

#: Problems listed in an error; any more are only counted (``SubmissionError.not_shown``).
MAX_PROBLEMS = 100
#: A listed path or reason longer than this is cut (with "…"), so the answer stays small.
MAX_PATH_CHARS = 200
MAX_REASON_CHARS = 500
#: Event times must lie in these years once converted to UTC: what every format can print.
FIRST_YEAR = 1900
LAST_YEAR = 9999
TIME_RANGE = f"{FIRST_YEAR}-01-01T00:00:00Z to {LAST_YEAR}-12-31T23:59:59.999999Z"


class SubmissionError(ValueError):
    """The submission is invalid; ``details`` maps a JSON path to the reason, and
    ``not_shown`` counts the problems beyond ``details`` that were left out."""

    def __init__(self, message: str, details: dict[str, str], not_shown: int = 0):
        super().__init__(message)
        self.message = message
        self.details = details
        self.not_shown = not_shown


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Problems(dict):
    """The problems of one submission, path → reason: the first ``MAX_PROBLEMS`` are kept
    (paths and reasons cut to a bounded length), the rest only counted in ``not_shown``, so
    memory and the error response stay bounded however many problems an upload has."""

    def __init__(self):
        super().__init__()
        self.not_shown = 0

    def __setitem__(self, path: str, reason: str) -> None:
        path = _cut(path, MAX_PATH_CHARS)
        if path in self or len(self) < MAX_PROBLEMS:
            super().__setitem__(path, _cut(reason, MAX_REASON_CHARS))
        else:
            self.not_shown += 1

    @property
    def total(self) -> int:
        return len(self) + self.not_shown


class TooLarge(SubmissionError):
    """The upload holds more students and events than a server takes at once (413)."""

    status = 413


def upload_size(body: bytes | str, *, csv: bool = False) -> tuple[int, int]:
    """``(objects, values)`` an upload holds at most, counted in its raw text before it is parsed.

    JSON: objects are its ``{`` (students and events, and the envelope); values are what the
    parser makes of it — every value but the first of an array or object follows a comma, and
    every array and object opens with a bracket — so commas plus brackets count them all (keys
    with their values). CSV: objects are its rows, ended by ``\n``, ``\r\n`` or a lone ``\r``
    alike, as the reader splits them; values its cells, one more per row than its delimiters.
    Each count is an upper bound (a mark inside a string counts too), found by ``bytes.count``
    without copying the body."""
    def count(mark: str) -> int:
        return body.count(mark.encode() if isinstance(body, bytes) else mark)

    if csv:
        rows = count("\n") + count("\r") - count("\r\n")
        return rows, rows + count(",") + count(";") + count("\t") + 1
    objects = count("{")
    return objects, objects + count("[") + count(",") + 1


def check_upload_size(body: bytes | str, limit: int, *, csv: bool = False) -> None:
    """Refuse (:class:`TooLarge`), before parsing, an upload with more than ``limit`` students
    and events (JSON objects, CSV rows) or more than ``VALUES_PER_OBJECT`` times as many values
    (:func:`upload_size`). Parsing holds every value at once (a 20 MiB body of minimal events is
    1.9 million objects and over 350 MiB), so these counts, not the body's size, bound a web
    process's memory."""
    objects, values = upload_size(body, csv=csv)
    if objects > limit:
        what = "rows" if csv else "students and events"
        raise TooLarge(f"too many {what}", {ROOT: (
            f"at most {limit:,} {what} in one upload (REPORTGEN_MAX_UPLOAD_OBJECTS); this one has up to "
            f"{objects:,}: split it into several uploads")})
    check_values(values, limit, csv=csv)


def check_values(values: int, limit: int, *, csv: bool = False) -> None:
    """Refuse (:class:`TooLarge`) an upload of more than ``VALUES_PER_OBJECT`` times ``limit``
    values (:func:`upload_size`), whatever its format: another platform's file too."""
    if values > limit * VALUES_PER_OBJECT:
        what = "cells" if csv else "values (objects, arrays, strings, numbers)"
        raise TooLarge(f"too many {what.split(' ')[0]}", {ROOT: (
            f"at most {limit * VALUES_PER_OBJECT:,} {what} in one upload ({VALUES_PER_OBJECT} per student or event "
            f"of REPORTGEN_MAX_UPLOAD_OBJECTS); this one has up to {values:,}: split it into several uploads, "
            "or leave out columns and fields reportgen does not read")})


def check_distinct_units(students: list[Student], listed: dict[str, tuple[str, ...]] | None = None) -> None:
    """Refuse (:class:`TooLarge`) an upload with more than ``MAX_UNITS_PER_UPLOAD`` distinct
    units across its namespaces, those ``options.units`` lists included: every job of its report
    loads their labels."""
    units = {(student.namespace, event.unit) for student in students for event in student.events}
    units.update((namespace, unit) for namespace, order in (listed or {}).items() for unit in order)
    if len(units) > MAX_UNITS_PER_UPLOAD:
        raise TooLarge("too many units", {ROOT: (
            f"at most {MAX_UNITS_PER_UPLOAD:,} distinct units in one upload (those options.units lists "
            f"included); this one has {len(units):,}: split it into several uploads")})


class MalformedJSON(SubmissionError):
    """The body is not JSON at all; carries what to fix (``reason``, in plain words) and the
    line and column where to fix it (see :mod:`.json_syntax`)."""

    def __init__(self, reason: str, line: int, column: int):
        super().__init__(
            "malformed JSON",
            {ROOT: f"{reason} at line {line}, column {column}"},
        )
        self.reason = reason
        self.line = line
        self.column = column


class EmptySubmission(SubmissionError):
    """Nothing to read (no bytes, or only white space): said as such, not as malformed JSON
    at line 1, column 1. ``what`` names what was empty (``request body``, ``file``)."""

    def __init__(self, what: str = "submission"):
        super().__init__(f"empty {what}", {ROOT: (
            f"The {what} is empty: send the students as JSON (one student object, or an array of them) "
            "or as CSV with a header row")})
        self.what = what


def is_blank(body: str | bytes) -> bool:
    """Whether an upload has nothing but white space (after a byte-order mark) in it; a regular
    expression, so a large body is neither copied nor read past its first character of data."""
    return (_BLANK_BYTES if isinstance(body, bytes) else _BLANK_TEXT).fullmatch(body) is not None


@dataclass(frozen=True, slots=True)
class Event:
    """One completed activity; ``unit`` is canonical text, ``index`` its input position, ``id``
    the event's own id where the data carries one (JSON ``id``, an xAPI statement's, a Caliper
    event's): a class's history takes a known id for a duplicate, reports do not read it."""

    unit: str
    type: str | None
    created_at: datetime | None
    index: int
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Student:
    student_id: str
    namespace: str
    events: tuple[Event, ...]


def _slot_setters(cls: type) -> tuple:
    """The ``__set__`` of each field's slot of a frozen ``slots=True`` dataclass, in field order.

    ``object.__new__(cls)`` and these build an instance in about half the time of the frozen
    ``__init__`` (which goes through ``object.__setattr__`` once per field): for the hot loops
    that make a million of them. Only for classes without ``__post_init__`` or defaults to apply.
    """
    if "__post_init__" in vars(cls):
        raise TypeError(f"{cls.__name__} has a __post_init__ that this would skip")
    return tuple(vars(cls)[name].__set__ for name in cls.__dataclass_fields__)


_EVENT_SETTERS = _slot_setters(Event)

_pause_lock = threading.Lock()
_pauses = 0
_resume_gc = False
# Container objects made while paused above which the last one out runs one full collection.
_COLLECT_AFTER = 100_000


@contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic garbage collection inside: for building a million-object structure.

    CPython (3.11) starts a collection every 700 container allocations, and as the heap grows
    it traverses the whole of it again and again: for a million events (acyclic, so there is
    nothing to find) that more than doubled the time of validation. Left to itself after the
    pause, it would then traverse the new objects three times (as young, as middle-aged, and in
    the full collection their number soon triggers); one full collection at once traverses them
    once, so the last one out runs it when more than ``_COLLECT_AFTER`` containers were made
    (``bench/intake_bench.py``: 1.2 s of collections after a million events, 0.65 s with it).
    Paused while any thread is inside (the web serves with threads); resumed by the last one
    out if it was on when the first came in.
    """
    global _pauses, _resume_gc
    with _pause_lock:
        if _pauses == 0:
            _resume_gc = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            resumed = _pauses == 0 and _resume_gc
            if resumed:
                gc.enable()
        if resumed and gc.get_count()[0] > _COLLECT_AFTER:
            gc.collect()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]')


def _too_deep(text: str) -> MalformedJSON:
    """Where the nesting first goes past the parser's depth (found only on this error path)."""
    limit = sys.getrecursionlimit() // 2
    depth = 0
    for match in _NESTING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, match.start()) + 1
                column = match.start() - text.rfind("\n", 0, match.start())
                break
        elif token in "]}":
            depth -= 1
    else:
        line, column = 1, 1
    return MalformedJSON(f"arrays and objects nested too deeply (more than {limit} levels; "
                         "a submission needs 5)", line, column)


def loads(text: str | bytes) -> Any:
    """Parse JSON strictly (no NaN/Infinity, no trailing text), raising :class:`MalformedJSON`;
    :class:`SubmissionError` names each stored string that holds a NUL or a lone surrogate."""
    if is_blank(text):
        raise EmptySubmission()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            before = text[:exc.start].decode("utf-8", "replace")
            raise MalformedJSON(f"not UTF-8 ({exc.reason}): save the file as UTF-8",
                                before.count("\n") + 1, len(before) - before.rfind("\n")) from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        found = culprit(text, exc)
        raise MalformedJSON(found.reason, found.line, found.column) from None
    except RecursionError:
        raise _too_deep(text) from None
    except ValueError:
        found = constant(text)
        raise MalformedJSON(found.reason, found.line, found.column) from None
    if _may_hold_unstorable(text):
        check_storable(document)
    return document


_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_HIGH_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")
_LOW_SURROGATE_ESCAPE = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _may_hold_unstorable(text: str) -> bool:
    """Whether the JSON text has a ``\\u0000`` or a surrogate escape that is not half of a pair:
    the only ways a decoded string can hold either. A quick scan of the text, so that the
    exact check (:func:`check_storable`) walks the document only when it may find something."""
    if "\\" not in text:
        return False
    for match in _UNSTORABLE_ESCAPE.finditer(text):
        start, end = match.span()
        if _HIGH_SURROGATE_ESCAPE.fullmatch(text, start, end):
            if not _LOW_SURROGATE_ESCAPE.match(text, end):
                return True
        elif _LOW_SURROGATE_ESCAPE.fullmatch(text, start, end):
            if not _HIGH_SURROGATE_ESCAPE.fullmatch(text, start - 6, start):
                return True
        else:
            return True
    return False


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored, or ``None``: PostgreSQL cannot store a NUL character, and
    a lone UTF-16 surrogate (half of a pair) is not a character in any encoding."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored; remove it"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"contains a lone surrogate (\\u{ord(value[exc.start]):04x}), half of a UTF-16 pair, "
                    "which is not a character; send the whole pair or the character itself")
    return None


def shown(value: str) -> str:
    """A string that may hold a NUL or a lone surrogate, safe to print (those escaped)."""
    return value if text_problem(value) is None else ascii(value)[1:-1]


def namespace_path(path: str, namespace: str) -> str:
    """The path of a namespace's entry under ``path``: ``options.units.python-101``, ``…""``
    for the empty namespace."""
    return f'{path}.""' if namespace == "" else f"{path}.{shown(namespace)}"


def _check_text(value: Any, path: str, errors: dict[str, str]) -> None:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            errors[path] = problem


def check_storable(document: Any) -> None:
    """:class:`SubmissionError` naming each string that would be stored (ids, namespaces,
    units, types, times, addresses, the options' namespaces and units) and holds a NUL or a
    lone surrogate; the rest of the document (unknown fields) is never stored, so not read."""
    errors = Problems()
    if is_envelope(document):
        students, prefix = document["students"], "students"
        email = document.get("email")
        if isinstance(email, list):
            for index, address in enumerate(email):
                _check_text(address, f"email[{index}]", errors)
        else:
            _check_text(email, "email", errors)
        options = document.get("options")
        units = options.get("units") if isinstance(options, dict) else None
        if isinstance(units, dict):
            for namespace, listed in units.items():
                path = namespace_path("options.units", namespace)
                _check_text(namespace, path, errors)
                for index, unit in enumerate(listed if isinstance(listed, list) else ()):
                    _check_text(unit, f"{path}[{index}]", errors)
    else:
        students, prefix = document, ""
    for index, student in ([(None, students)] if isinstance(students, dict) else
                           enumerate(students) if isinstance(students, list) else ()):
        path = prefix if index is None else f"{prefix}[{index}]"
        if not isinstance(student, dict):
            continue
        dot = f"{path}." if path else ""
        for name in ("student_id", "namespace"):
            _check_text(student.get(name), f"{dot}{name}", errors)
        events = student.get("events")
        for number, event in enumerate(events if isinstance(events, list) else ()):
            if isinstance(event, dict):
                for name in ("unit", "type", "created_time", "id"):
                    _check_text(event.get(name), f"{dot}events[{number}].{name}", errors)
    raise_if(errors)


def parse_time(value: str) -> datetime:
    """ISO 8601 with ``T`` or a space, any fraction, any offset or ``Z``; naive means UTC."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def in_time_range(moment: datetime) -> bool:
    """Whether an aware time is in ``FIRST_YEAR``..``LAST_YEAR`` once converted to UTC (which
    overflows for ``9999-12-31T23:59:59-01:00``): every format prints such a time."""
    try:
        return FIRST_YEAR <= moment.astimezone(timezone.utc).year <= LAST_YEAR
    except OverflowError:
        return False


def canonical_unit(value: Any) -> str | None:
    """The unit as text, so ``17`` and ``"17"`` are one unit; ``None`` if not a unit."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def canonical_id(value: Any) -> str | None:
    """An event id as text (``7`` and ``"7"`` are one id); ``None`` if not an id. Unlike a
    unit's, it is kept as given: ids are compared, never shown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def unit_sort_key(unit: str) -> tuple:
    """Integers (and strings of digits) first in numeric order, then the rest as text."""
    if _INTEGER_UNIT.fullmatch(unit):
        return (0, int(unit), unit)
    return (1, 0, unit)


def type_name(value: Any) -> str:
    return {
        dict: "an object", list: "an array", str: "a string", bool: "a boolean",
        int: "a number", float: "a number", type(None): "null",
    }.get(type(value), type(value).__name__)


def _parse_event(raw: Any, path: str, index: int, errors: dict[str, str]) -> Event | None:
    if not isinstance(raw, dict):
        errors[path] = f"must be an object, not {type_name(raw)}"
        return None
    ok = True
    unit = canonical_unit(raw.get("unit"))
    if "unit" not in raw:
        errors[f"{path}.unit"] = "is required"
        ok = False
    elif unit is None:
        errors[f"{path}.unit"] = (
            f"must be a non-empty string or an integer, not {type_name(raw['unit'])}"
        )
        ok = False
    elif problem := too_long(unit, "unit"):
        errors[f"{path}.unit"] = problem
        ok = False
    event_type = raw.get("type")
    if event_type is not None and not isinstance(event_type, str):
        errors[f"{path}.type"] = f"must be a string, not {type_name(event_type)}"
        ok = False
    elif event_type is not None and (problem := too_long(event_type, "type")):
        errors[f"{path}.type"] = problem
        ok = False
    event_id = raw.get("id")
    if event_id is not None:
        event_id = canonical_id(event_id)
        if event_id is None:
            errors[f"{path}.id"] = ("must not be empty (leave it out if the event has no id)"
                                    if isinstance(raw["id"], str) else
                                    f"must be a string or an integer, not {type_name(raw['id'])}")
            ok = False
        elif problem := too_long(event_id, "id"):
            errors[f"{path}.id"] = problem
            ok = False
    created_at = None
    raw_time = raw.get("created_time")
    if raw_time is not None:
        if not isinstance(raw_time, str):
            errors[f"{path}.created_time"] = (
                f"must be an ISO 8601 string, not {type_name(raw_time)}"
            )
            ok = False
        else:
            try:
                created_at = parse_time(raw_time)
            except ValueError:
                errors[f"{path}.created_time"] = (
                    f"{raw_time[:60]!r} is not an ISO 8601 date-time "
                    "(e.g. 2024-07-21 03:04:55.939000+00:00)"
                )
                ok = False
            else:
                if not in_time_range(created_at):
                    errors[f"{path}.created_time"] = (
                        f"{raw_time[:60]!r} is outside the times reports can show: {TIME_RANGE}"
                    )
                    ok = False
    if not ok:
        return None
    return Event(unit=unit, type=event_type, created_at=created_at, index=index, id=event_id)


_INVALID = object()


def _parse_events(raw_events: list, path: str, errors: dict[str, str], events: list[Event],
                  units: dict[str | int, str]) -> bool:
    """Append the events of ``raw_events`` to ``events``; whether all of them were valid.

    The hot path of an upload (a large one has a million events), so an event that is plainly
    valid is read here with as little work as possible: exact types (what JSON gives),
    each unit's canonical text from ``units`` (raw unit → text, shared by the whole upload), no
    path built. Any other event — a problem, or a type JSON never gives, like a ``str``
    subclass — goes through :func:`_parse_event`, which names every problem as it always has.
    """
    ok = True
    append = events.append
    fromisoformat = datetime.fromisoformat
    utc = timezone.utc
    first_year, last_year = FIRST_YEAR, LAST_YEAR
    new = object.__new__
    set_unit, set_type, set_created_at, set_index, set_id = _EVENT_SETTERS
    max_unit, max_type, max_id = MAX_CHARS["unit"], MAX_CHARS["type"], MAX_CHARS["id"]
    for index, raw in enumerate(raw_events):
        if type(raw) is dict:
            value = raw.get("unit")
            kind = type(value)
            unit = None
            if kind is str or kind is int:  # never a bool: True == 1 must not find unit "1"
                unit = units.get(value)
                if unit is None:
                    unit = canonical_unit(value)
                    if unit is not None and len(unit) <= max_unit:
                        units[value] = unit
                    else:
                        unit = None
            event_type = raw.get("type")
            event_id = raw.get("id")
            if unit is not None and (event_type is None or (type(event_type) is str and len(event_type) <= max_type)) \
                    and (event_id is None or (type(event_id) is str and 0 < len(event_id) <= max_id
                                              and not event_id.isspace())):
                raw_time = raw.get("created_time")
                if raw_time is None:
                    created_at = None
                elif type(raw_time) is str:
                    try:  # parse_time, inline
                        created_at = fromisoformat(raw_time.strip())
                    except ValueError:
                        created_at = _INVALID
                    else:
                        if created_at.tzinfo is None:
                            created_at = created_at.replace(tzinfo=utc)
                        if not first_year < created_at.year < last_year:  # near the range's ends:
                            created_at = _INVALID  # _parse_event decides exactly
                else:
                    created_at = _INVALID
                if created_at is not _INVALID:
                    event = new(Event)  # Event(unit, event_type, created_at, index, event_id), faster
                    set_unit(event, unit)
                    set_type(event, event_type)
                    set_created_at(event, created_at)
                    set_index(event, index)
                    set_id(event, event_id)
                    append(event)
                    continue
        event = _parse_event(raw, f"{path}[{index}]", index, errors)
        if event is None:
            ok = False
        else:
            append(event)
    return ok


def _parse_student(raw: Any, path: str, errors: dict[str, str],
                   units: dict[str | int, str] | None = None) -> Student | None:
    prefix = f"{path}." if path else ""
    if not isinstance(raw, dict):
        errors[path or ROOT] = f"must be an object, not {type_name(raw)}"
        return None
    ok = True
    student_id = raw.get("student_id")
    if "student_id" not in raw:
        errors[f"{prefix}student_id"] = "is required"
        ok = False
    elif not isinstance(student_id, str):
        errors[f"{prefix}student_id"] = f"must be a string, not {type_name(student_id)}"
        ok = False
    elif not student_id.strip():
        errors[f"{prefix}student_id"] = "must not be empty"
        ok = False
    elif problem := too_long(student_id, "student_id"):
        errors[f"{prefix}student_id"] = problem
        ok = False
    namespace = raw.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        errors[f"{prefix}namespace"] = f"must be a string, not {type_name(namespace)}"
        ok = False
    elif namespace is not None and (problem := too_long(namespace, "namespace")):
        errors[f"{prefix}namespace"] = problem
        ok = False
    raw_events = raw.get("events")
    events: list[Event] = []
    if "events" not in raw:
        errors[f"{prefix}events"] = "is required"
        ok = False
    elif not isinstance(raw_events, list):
        errors[f"{prefix}events"] = f"must be an array, not {type_name(raw_events)}"
        ok = False
    elif not _parse_events(raw_events, f"{prefix}events", errors, events, units if units is not None else {}):
        ok = False
    elif len(distinct := {event.unit for event in events}) > MAX_UNITS_PER_STUDENT:
        errors[f"{prefix}events"] = (
            f"are on {len(distinct):,} distinct units; a student may have at most {MAX_UNITS_PER_STUDENT:,} "
            "(each is a row of the student's per-unit table and timeline): split the units into several uploads")
        ok = False
    if not ok:
        return None
    return Student(student_id=student_id, namespace=namespace or "", events=tuple(events))


@gc_paused()
def parse_students(document: Any, prefix: str, errors: dict[str, str]) -> list[Student]:
    """Students from one object or an array of them, problems collected under ``prefix``."""
    students: list[Student] = []
    if isinstance(document, dict):
        student = _parse_student(document, prefix, errors)
        students = [student] if student else []
    elif isinstance(document, list):
        if not document:
            errors[prefix or ROOT] = "must contain at least one student"
        seen: dict[tuple[str, str], int] = {}
        units: dict[str | int, str] = {}
        for index, raw in enumerate(document):
            student = _parse_student(raw, f"{prefix}[{index}]", errors, units)
            if student is None:
                continue
            key = (student.namespace, student.student_id)
            if key in seen:
                errors[f"{prefix}[{index}].student_id"] = (
                    f"duplicates {prefix}[{seen[key]}] in the same namespace; "
                    "put all of a student's events in one entry"
                )
            else:
                seen[key] = index
            students.append(student)
    else:
        errors[prefix or ROOT] = f"must be a student object or an array of them, not {type_name(document)}"
    return students


def raise_if(errors: Problems, what: str = "submission") -> None:
    if errors:
        count = errors.total
        raise SubmissionError(f"invalid {what}: {count} problem{'s' if count != 1 else ''}", errors,
                              errors.not_shown)


def parse_submission(document: Any) -> list[Student]:
    """Validate a decoded JSON document: one student object or an array of them."""
    errors = Problems()
    students = parse_students(document, "", errors)
    raise_if(errors)
    check_distinct_units(students)
    return students


def is_envelope(document: Any) -> bool:
    """``{"students": …, "email": […]}`` rather than a bare student object."""
    return isinstance(document, dict) and "students" in document and "student_id" not in document


def parse_text(text: str | bytes) -> list[Student]:
    """Decode and validate in one step, as the API, the form and the CLI all do."""
    return parse_submission(loads(text))


def to_document(students: list[Student]) -> list[dict[str, Any]]:
    """The validated students back as canonical JSON-ready data (what gets stored)."""
    return [
        {
            "student_id": s.student_id,
            "namespace": s.namespace,
            "events": [
                {
                    "unit": e.unit,
                    "type": e.type,
                    "created_time": e.created_at.isoformat() if e.created_at else None,
                }
                for e in s.events
            ],
        }
        for s in students
    ]
