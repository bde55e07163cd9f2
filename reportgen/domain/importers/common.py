"""What every importer gives back, and the options an import takes.

An importer turns a file in someone else's shape (xAPI statements, a Moodle log, Caliper events)
into reportgen's own document — the list of ``{"student_id", "namespace", "events": […]}`` that
:func:`..upload.parse_upload` validates — and says what it did with each record: used, or
skipped and why. It never decides what a valid student or event is: :meth:`Imported.upload`
hands the document to :func:`..upload.parse_upload`, so every rule, limit and message of
reportgen's format stays in one place, and names any problem found there by the record it came
from (``statement 12``, ``row 7, column Time``) instead of a path into a document the user
never wrote.

Skipped records are counted by reason, a short fixed sentence ("a group as actor"): reasons
never quote the data, so a summary holds no personal data and stays small however many records
an upload has. A file whose every record is skipped is an error, said with the counts.

Unit and student names (xAPI ``definition.name``, a Moodle event context, Caliper
``object.name``, an actor's or a Moodle user's full name) are carried beside the document, per
namespace, and handed on as the ``unit_names`` and ``student_names`` report options (names an
envelope or the form gives win), so they are stored with the report and every document the
workers render shows them next to the ``Q`` labels and ids. That is the least invasive way to
the report: no new column, no change to what a student or an event is, and reportgen's own
uploads can name their units the same way. xAPI and Caliper units (IRIs) are also ordered by
their first appearance in time, as the ``units`` option, unless the options order them.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..options import MAX_NAME_CHARS
from ..submission import (
    ROOT, TIME_RANGE, Problems, SubmissionError, TooLarge, check_upload_size, check_values, in_time_range, is_blank,
    loads, parse_time, raise_if, text_problem, type_name, upload_size,
)
from ..upload import Upload, parse_upload

#: The formats an upload may be in; ``reportgen`` is the service's own JSON or CSV.
FORMATS = ("reportgen", "xapi", "moodle", "caliper")
IMPORTED_FORMATS = FORMATS[1:]
FORMAT_NAMES = {
    "reportgen": "reportgen JSON or CSV",
    "xapi": "xAPI statements",
    "moodle": "Moodle log (CSV)",
    "caliper": "Caliper events",
}
#: JSON objects an xAPI or Caliper upload may hold, per object REPORTGEN_MAX_UPLOAD_OBJECTS allows
#: a reportgen upload: a statement is about 20 objects but becomes one event, and parsing costs
#: about 0.4 KiB per object (a realistic 20 MiB xAPI file: 340,000 objects, a peak of 243 MiB).
IMPORT_OBJECTS_FACTOR = 2
#: Words accepted for ``day_first`` from a form or a query string.
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
MAX_ZONE_CHARS = 64
MAX_EXCLUDED_USERS = 1000
MAX_NAMESPACE_CHARS = 200
_LIST_SEPARATORS = re.compile(r"[,;\n]+")


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read a file that does not say everything itself.

    ``namespace``: the namespace of records whose course the file does not name. ``day_first``
    and ``timezone``: how a Moodle log writes its times (``21/07/24, 03:04:55``, in the
    downloading user's zone, no offset). ``exclude_users``: Moodle user ids or full names
    (compared without regard to case) whose rows are left out — teachers, admins.
    """

    namespace: str | None = None
    day_first: bool = True
    timezone: str = "UTC"
    exclude_users: tuple[str, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


DEFAULT_IMPORT_OPTIONS = ImportOptions()


def _parse_bool(value: Any, path: str, errors: dict[str, str]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    errors[path] = f"must be true or false, not {str(value)[:40]!r}"
    return True


def _parse_zone(value: Any, path: str, errors: dict[str, str]) -> str:
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or not name or len(name) > MAX_ZONE_CHARS or not _ZONE_NAME.fullmatch(name):
        errors[path] = f"must be an IANA time zone name like Europe/Berlin or UTC, not {str(value)[:MAX_ZONE_CHARS]!r}"
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        errors[path] = f"{name!r} is not a time zone this server knows; use an IANA name like Europe/Berlin or UTC"
        return "UTC"
    return name


def _parse_names(value: Any, path: str, errors: dict[str, str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = _LIST_SEPARATORS.split(value)
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, (str, int)) for item in value):
        errors[path] = "must be a list of user ids or full names (in a form or query: separated by commas)"
        return ()
    names = tuple(dict.fromkeys(str(item).strip().casefold() for item in value if str(item).strip()))
    if len(names) > MAX_EXCLUDED_USERS:
        errors[path] = f"at most {MAX_EXCLUDED_USERS} users"
        return ()
    return names


def parse_import_options(raw: Mapping[str, Any] | None) -> ImportOptions:
    """Import options from a form, a query string or a JSON object (missing or empty values
    take the defaults); :class:`SubmissionError` names each bad one by its field."""
    raw = raw or {}
    errors = Problems()
    namespace = raw.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        errors["namespace"] = "must be text"
        namespace = None
    elif isinstance(namespace, str):
        problem = text_problem(namespace)
        if problem:
            errors["namespace"] = problem
        elif len(namespace) > MAX_NAMESPACE_CHARS:
            errors["namespace"] = f"at most {MAX_NAMESPACE_CHARS} characters"
        namespace = namespace.strip() or None
    day_first = raw.get("day_first")
    timezone = raw.get("timezone")
    exclude = raw.get("exclude_users")
    options = ImportOptions(
        namespace=namespace,
        day_first=True if day_first in (None, "") else _parse_bool(day_first, "day_first", errors),
        timezone="UTC" if timezone in (None, "") else _parse_zone(timezone, "timezone", errors),
        exclude_users=() if exclude in (None, "") else _parse_names(exclude, "exclude_users", errors),
    )
    raise_if(errors, "import options")
    return options


def pick_language(language_map: Any) -> str | None:
    """The text of an xAPI language map to show: ``en``, then ``en-US``, then any other English,
    then the first; ``None`` when there is no non-empty text in it."""
    if not isinstance(language_map, dict) or not language_map:
        return None
    for key in ("en", "en-US"):
        text = language_map.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()
    english = [text for key, text in language_map.items() if isinstance(key, str) and key.lower().startswith("en")]
    for text in [*english, *language_map.values()]:
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


_STUDENT_PATH = re.compile(r"(?:students)?\[(\d+)\](?:\.events\[(\d+)\])?(?:\.(\w+))?")


@dataclass
class Imported:
    """A file read as reportgen's document, with where every event came from and what was skipped.

    ``students`` is what :func:`..upload.parse_upload` takes; ``origins`` holds, per student,
    the record number (counting from 1, as the file is read) of each of its events;
    ``record`` names a record in problems (``statement``, ``row``, ``event``) and ``fields``
    maps reportgen's field names to the source's (``unit`` → ``object.id``).
    """

    format: str
    record: str
    fields: Mapping[str, str]
    students: list[dict[str, Any]] = field(default_factory=list)
    origins: list[list[int]] = field(default_factory=list)
    read: int = 0
    skipped: Counter = field(default_factory=Counter)
    unit_names: dict[str, dict[str, str]] = field(default_factory=dict)
    student_names: dict[str, dict[str, str]] = field(default_factory=dict)
    unit_order: dict[str, list[str]] = field(default_factory=dict)
    """Per namespace, units in the order they first occur in time: xAPI and Caliper units are
    IRIs, which read in no useful order of their own."""
    positions: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    """Where each (namespace, student id) is in :attr:`students`."""

    def add_event(self, namespace: str, student_id: str, event: dict[str, Any], number: int,
                  unit_name: str | None = None, student_name: str | None = None) -> None:
        """One event of record ``number`` for its student (added on first sight), with the
        names the record gives its unit and student (the first name given is kept)."""
        position = self.positions.get((namespace, student_id))
        if position is None:
            position = self.positions[(namespace, student_id)] = len(self.students)
            self.students.append({"student_id": student_id, "namespace": namespace, "events": []})
            self.origins.append([])
        self.students[position]["events"].append(event)
        self.origins[position].append(number)
        if unit_name:
            self.unit_names.setdefault(namespace, {}).setdefault(event["unit"], unit_name)
        if student_name:
            self.student_names.setdefault(namespace, {}).setdefault(student_id, student_name)

    @property
    def used(self) -> int:
        return sum(len(events) for events in self.origins)

    def summary(self) -> dict[str, Any]:
        """What the status and the report say about the import: JSON-ready, no personal data."""
        return {
            "format": self.format,
            "records": self.record + "s",
            "read": self.read,
            "used": self.used,
            "skipped": sum(self.skipped.values()),
            "skipped_because": dict(self.skipped.most_common()),
        }

    def place(self, number: int, column: str | None = None) -> str:
        """``statement 12`` or ``row 7, column Time``: a record as problems name it."""
        return f"{self.record} {number}, {'column' if self.record == 'row' else 'field'} {column}" if column \
            else f"{self.record} {number}"

    def where(self, path: str) -> str:
        """The record (and field) of a path into :attr:`students`; other paths as they are."""
        match = _STUDENT_PATH.fullmatch(path)
        if match is None:
            return path
        student, event, name = match.groups()
        origins = self.origins[int(student)] if int(student) < len(self.origins) else []
        if not origins:
            return path
        number = origins[int(event)] if event is not None and int(event) < len(origins) else origins[0]
        return self.place(number, self.fields.get(name) if name else None)

    def relabel(self, exc: SubmissionError) -> SubmissionError:
        """``exc`` with its problems named by record instead of document path."""
        details = Problems()
        for path, reason in exc.details.items():
            details[self.where(path)] = reason
        return SubmissionError(exc.message, dict(details), exc.not_shown + details.not_shown)

    def options_for(self, options: Any) -> Any:
        """``options`` (an envelope's, or a form's) with what the file says: :attr:`unit_order`
        as the order of each namespace the options do not order, and the unit and student names
        (those the options give win)."""
        if options is not None and not isinstance(options, dict):
            return options  # parse_upload says what is wrong with it
        options = dict(options or {})
        for key, found in (("units", self.unit_order), ("unit_names", self.unit_names),
                           ("student_names", self.student_names)):
            given = options.get(key)
            if not found or (given is not None and not isinstance(given, dict)):
                continue
            merged: dict[str, Any] = {namespace: (list(value) if key == "units" else dict(value))
                                      for namespace, value in found.items()}
            for namespace, value in (given or {}).items():
                if key != "units" and isinstance(value, dict) and isinstance(merged.get(namespace), dict):
                    merged[namespace] = {**merged[namespace], **value}
                else:
                    merged[namespace] = value
            options[key] = merged
        return options

    def upload(self, recipients: Any = None, options: Any = None, **kwargs: Any) -> Upload:
        """:func:`..upload.parse_upload` of the students (with :meth:`options_for`), problems
        named by record; an error when nothing is left."""
        if not self.students:
            raise self.nothing_left()
        try:
            return parse_upload(self.students, recipients, self.options_for(options), **kwargs)
        except SubmissionError as exc:
            raise self.relabel(exc) from None

    def nothing_left(self) -> SubmissionError:
        what = FORMAT_NAMES[self.format]
        if not self.read:
            reason = f"The file has no {self.record}s: it is empty as {what}"
        else:
            reasons = "; ".join(f"{reason}: {count:,}" for reason, count in self.skipped.most_common())
            reason = (f"None of the {self.read:,} {self.record}s could be used, so there is nothing to report on; "
                      f"skipped: {reasons}")
        return SubmissionError(f"nothing to report on in the {what}", {ROOT: reason})



def shown_name(value: Any) -> str | None:
    """A name to show beside a label or an id: stripped, cut to :data:`..options.MAX_NAME_CHARS`,
    ``None`` when there is none or it cannot be stored."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or text_problem(value):
        return None
    return value if len(value) <= MAX_NAME_CHARS else value[:MAX_NAME_CHARS - 1] + "…"


def own_input(upload: Upload) -> dict[str, Any]:
    """The summary of an upload in reportgen's own format, JSON or CSV alike (:meth:`Imported.summary`'s
    shape: every event read is used)."""
    events = sum(len(student.events) for student in upload.students)
    return {"format": "reportgen", "records": "events", "read": events, "used": events, "skipped": 0,
            "skipped_because": {}}


def input_words(summary: dict[str, Any] | None) -> str | None:
    """``Data: xAPI statements, 1,204 statements read, 1,200 used, 4 skipped (a group as actor: 4)``."""
    if not summary:
        return None
    what = FORMAT_NAMES.get(summary.get("format"), str(summary.get("format")))
    records, read, used = summary.get("records", "records"), summary.get("read", 0), summary.get("used", 0)
    if summary.get("format") == "reportgen":
        return f"Data: {what}, {used:,} events"
    words = f"Data: {what}, {read:,} {records} read, {used:,} used"
    skipped = summary.get("skipped_because") or {}
    if skipped:
        reasons = "; ".join(f"{reason}: {count:,}" for reason, count in skipped.items())
        words += f", {summary.get('skipped', 0):,} skipped ({reasons})"
    return words


def check_import_size(raw: str | bytes, format_name: str, limit: int) -> None:
    """:class:`..submission.TooLarge` before parsing when the upload would hold more than a web
    process should: a Moodle log's rows and cells as reportgen's CSV's (any line ending); the JSON
    objects of xAPI and Caliper up to :data:`IMPORT_OBJECTS_FACTOR` times ``limit``, and their
    values (arrays, strings, numbers) as reportgen's JSON's (a 17 MiB xAPI file of six million
    empty arrays passed the count of objects and took 564 MiB to read; a real 19.5 MiB export of
    70,000 statements holds 980,000 values, under the 2,000,000 at the default cap)."""
    if format_name == "moodle":
        check_upload_size(raw, limit, csv=True)
        return
    cap = IMPORT_OBJECTS_FACTOR * limit
    count, values = upload_size(raw)
    if count > cap:
        raise TooLarge("too many JSON objects", {ROOT: (
            f"at most {cap:,} JSON objects in one upload of {FORMAT_NAMES[format_name]} "
            f"({IMPORT_OBJECTS_FACTOR} × REPORTGEN_MAX_UPLOAD_OBJECTS; a statement or event holds about 20); this "
            f"one has up to {count:,}: split it into several uploads")})
    check_values(values, limit)


def first_seen_order(records: list[tuple]) -> dict[str, list[str]]:
    """Per namespace, units in the order of their first event in time (untimed ones after, in
    file order): ``records`` are ``(namespace, unit, moment or None, number)``."""
    order: dict[str, dict[str, None]] = {}
    timed = sorted((r for r in records if r[2] is not None), key=lambda r: (r[2], r[3]))
    for namespace, unit, _, _ in [*timed, *(r for r in records if r[2] is None)]:
        order.setdefault(namespace, {})[unit] = None
    return {namespace: list(units) for namespace, units in order.items()}


class Skip(Exception):
    """A record left out on purpose; ``args[0]`` is the counted reason (fixed words, no data)."""


class Invalid(Exception):
    """A record that cannot be read; ``args[0]`` is the problem, in words."""


def stored_text(value: Any, what: str) -> str:
    """A string the database can store, or :class:`Invalid` naming ``what``."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{what} must be non-empty text, not {type_name(value)}")
    problem = text_problem(value)
    if problem:
        raise Invalid(f"{what} {problem}")
    return value.strip()


def record_time(value: Any, what: str) -> tuple[str, Any]:
    """``(text, aware datetime)`` of a record's ISO 8601 time; :class:`Invalid` naming ``what``."""
    if not isinstance(value, str):
        raise Invalid(f"{what} must be an ISO 8601 date-time, not {type_name(value)}")
    try:
        moment = parse_time(value)
    except ValueError:
        raise Invalid(f"{what} {value[:60]!r} is not an ISO 8601 date-time (e.g. 2024-07-21T03:04:55.939Z)") from None
    if not in_time_range(moment):
        raise Invalid(f"{what} {value[:60]!r} is outside the times reports can show: {TIME_RANGE}")
    return value.strip(), moment


def decode_json(raw: str | bytes) -> str:
    """The text of a JSON upload without its byte-order mark; bytes that are not UTF-8 are
    :func:`..submission.loads`'s :class:`MalformedJSON`, which says where they stop being UTF-8."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        loads(raw)  # always raises here
        raise


def _is_json_lines(text: str) -> bool:
    """Whether the text is JSON Lines: its first line is a whole JSON object and more follows."""
    start = text.lstrip("\ufeff \t\r\n")
    if not start.startswith("{"):
        return False
    line, newline, rest = start.partition("\n")
    if not newline or is_blank(rest):
        return False
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def read_json(raw: str | bytes) -> tuple[Any, list[int] | None]:
    """The decoded JSON of an upload, or in JSON Lines (what LRS exports and event queues often
    write) the list of its lines' documents and the number of each line; every line that is not
    JSON is named (``line 7``). Parsing is :func:`..submission.loads`'s, so too deep nesting,
    NaN and bytes that are not UTF-8 are the same clear errors as for reportgen's JSON."""
    text = decode_json(raw)
    if not _is_json_lines(text):
        return loads(text), None
    documents, lines, problems = [], [], Problems()
    for number, line in enumerate(text.split("\n"), start=1):
        if is_blank(line):
            continue
        try:
            documents.append(loads(line))
            lines.append(number)
        except SubmissionError as exc:
            problems[f"line {number}"] = next(iter(exc.details.values()))
    raise_if(problems, "JSON Lines")
    return documents, lines
