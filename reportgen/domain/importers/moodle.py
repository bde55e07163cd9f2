"""A Moodle "Logs" download in: the file any teacher can get from a course, no administrator needed.

Reports → Logs → (choose "Participating" as education level) → Get these logs → Download table
data as "Comma separated values (.csv)". Moodle (``report/log/classes/table_log.php``) writes the
columns ``Time, User full name, Affected user, Event context, Component, Event name,
Description, Origin, IP address`` — with ``Course`` first for the site-wide logs — as UTF-8 with
a byte-order mark, newest row first (order does not matter here). One row is one event:

* ``student_id`` ← the numeric user id in Description (``The user with id '42' viewed …``),
  carried with the row's full name for the report. Descriptions are always English, whatever
  the language of the headers. A row with no user id, or user id 0 (nobody logged in), is
  skipped; so are the users named in ``exclude_users`` (ids or full names: teachers, admins).
* ``unit`` ← the course module id in Description (``… course module id '17'``), named after the
  Event context (``Quiz: Week 3 quiz``) for the report; else the Event context itself
  (``Course: Python 101``).
* ``type`` ← Event name; ``namespace`` ← the Course column, else the namespace given with the
  upload, else the default (none).
* ``created_time`` ← Time, which Moodle writes with ``strftimedatetimeshortaccurate``
  (English: ``%d/%m/%y, %H:%M:%S``, with the leading zero of the day removed: ``1/07/24,
  03:04:55``; US English: month first) in the downloading user's time zone, without an offset.
  ``day_first`` (default true) and ``timezone`` (IANA, default UTC) say how to read it; two-digit
  years are 20xx (Moodle's logs start in 2002). A date that does not exist (``31/02/24``), a time
  the clocks skipped, or one they passed twice (the hour the clocks go back: it cannot be told
  which was meant) is an error naming the row.

Headers are matched by their English names, without regard to case; a log downloaded in
another language (Zeit, Heure, …) is read by position when it has Moodle's nine or ten columns.
Rows are numbered as a spreadsheet numbers them (the header is row 1) and problems name the row
and column: ``row 7, column Time``.

The time is the hot path of a large log (a 20 MiB log is about 110,000 rows): each distinct
date is checked once, with its UTC offset when the zone keeps one offset all day (every day but
the two a year the clocks change, when each minute is worked out on its own), and the time is
written as local time with that offset (``2024-07-21T03:04:55+02:00``), so no datetime is made
per row here: 110,000 rows read in 0.56 s of CPU where working out each minute took 1.14 s
(``bench/intake_bench.py``, Europe/Berlin).
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

from ..csv_import import MalformedCSV, decode_csv, location, sniff_delimiter
from ..submission import FIRST_YEAR, LAST_YEAR, Problems, raise_if, text_problem
from .common import DEFAULT_IMPORT_OPTIONS, Imported, ImportOptions

HEADER_ROW = 1
#: Moodle's columns in its order (``Course`` only in site-wide logs), by their English names.
COLUMNS = ("time", "user full name", "affected user", "event context", "component", "event name", "description",
           "origin", "ip address")
REQUIRED = ("time", "event name", "description")
FIELDS = {"student_id": "Description", "namespace": "Course", "unit": "Event context", "type": "Event name",
          "created_time": "Time"}
_USER = re.compile(r"The user with id '(-?\d+)'")
_MODULE = re.compile(r"course module id '(\d+)'")
_TIME = re.compile(r"\s*(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,5}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?\s*")
_NO_NAME = ("", "-")


def _columns(header: list[str]) -> dict[str, int]:
    """Where each of Moodle's columns is; by position when the names are not English."""
    names = [cell.strip().lower() for cell in header]
    found = {name: names.index(name) for name in (*COLUMNS, "course") if name in names}
    if all(name in found for name in REQUIRED):
        return found
    if not any(name in found for name in COLUMNS) and len(header) in (len(COLUMNS), len(COLUMNS) + 1):
        offset = len(header) - len(COLUMNS)
        found = {name: index + offset for index, name in enumerate(COLUMNS)}
        if offset:
            found["course"] = 0
        return found
    missing = ", ".join(name.capitalize() for name in REQUIRED if name not in found)
    raise MalformedCSV(HEADER_ROW, (
        f"has no {missing} column: a Moodle log download starts with the header Time, User full name, Affected user, "
        "Event context, Component, Event name, Description, Origin, IP address (Reports → Logs → Download, as CSV)"))


class _Clock:
    """Moodle's local times as ISO 8601 text with their UTC offset.

    A day on which the zone's offset does not change (all but two a year, in zones that change at
    all) has one offset, worked out once for the day; its times are then only checked and copied.
    On a day the clocks change, each minute is worked out on its own (and kept).
    """

    def __init__(self, options: ImportOptions):
        self.day_first = options.day_first
        self.zone = options.zone
        self.utc = options.timezone in ("UTC", "Etc/UTC")
        self.order = "day/month/year" if self.day_first else "month/day/year"
        self.days: dict[str, tuple[str, str | None]] = {}
        self.day_offsets: dict[str, str | None] = {}
        self.dates: dict[tuple[str, str, str], str | None] = {}
        self.minutes: dict[tuple[str, int, int], str] = {}

    def _date(self, first: str, second: str, year: str) -> str | None:
        """``2024-07-21`` for a valid date (``None`` if there is none such), cached."""
        key = (first, second, year)
        if key not in self.dates:
            if len(first) == 4:  # year first: 2024-07-21
                year_number, month, day = int(first), int(second), int(year) if len(year) <= 2 else -1
            else:
                day, month = (int(first), int(second)) if self.day_first else (int(second), int(first))
                year_number = 2000 + int(year) if len(year) <= 2 else int(year) if len(year) == 4 else -1
            try:
                self.dates[key] = date(year_number, month, day).isoformat()
            except ValueError:
                self.dates[key] = None
        return self.dates[key]

    def _offset_text(self, moment: datetime) -> str:
        """``+02:00``, or why the moment is outside the years reports show (no sign first)."""
        try:
            year = moment.astimezone(timezone.utc).year
        except OverflowError:
            year = None
        if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
            return f"is outside the years reports can show ({FIRST_YEAR} to {LAST_YEAR}, in UTC)"
        offset = moment.utcoffset() or timedelta(0)
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(int(offset.total_seconds())) // 60
        return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def day_offset(self, day: str) -> str | None:
        """The offset of a whole day on which it does not change (``None`` if it does)."""
        naive = datetime.fromisoformat(day)
        if self.utc:
            return self._offset_text(naive.replace(tzinfo=timezone.utc))
        points = [naive.replace(hour=hour, tzinfo=self.zone, fold=fold) for hour in (0, 12, 23) for fold in (0, 1)]
        late = points[-1].replace(minute=59, second=59)
        if len({point.utcoffset() for point in [*points, late]}) > 1:
            return None
        return self._offset_text(points[0])

    def _minute_offset(self, day: str, hour: int, minute: int) -> str:
        """``+02:00`` for one local minute of a day the clocks change, or why it is no time."""
        key = (day, hour, minute)
        if key not in self.minutes:
            naive = datetime.fromisoformat(day).replace(hour=hour, minute=minute)
            moment, later = naive.replace(tzinfo=self.zone), naive.replace(tzinfo=self.zone, fold=1)
            if moment.utcoffset() == later.utcoffset():
                self.minutes[key] = self._offset_text(moment)
            elif moment.astimezone(timezone.utc).astimezone(self.zone).replace(tzinfo=None) != naive:
                self.minutes[key] = (f"did not happen in {self.zone.key}: the clocks went forward over it; "
                                     "is the time zone right?")
            else:
                self.minutes[key] = (f"happened twice in {self.zone.key} (the clocks went back), and the log does "
                                     "not say which; download the log with the time zone set to one without "
                                     "daylight saving time (UTC)")
        return self.minutes[key]

    def iso(self, cell: str) -> str:
        """The cell's time as ISO 8601 with its offset; ValueError says why it is no time."""
        date_part, comma, time_part = cell.partition(", ")
        known = self.days.get(date_part) if comma else None
        if known is not None and known[1] is not None and known[1][0] in "+-" and len(time_part) == 8 \
                and time_part[2] == time_part[5] == ":" and time_part[:2] < "24" and time_part[3:5] < "60" \
                and time_part[6:] < "60" and time_part.replace(":", "").isdigit():
            return f"{known[0]}T{time_part}{known[1]}"  # a day with one offset, a time as Moodle writes it
        match = _TIME.fullmatch(cell)
        if match is None:
            raise ValueError(f"is not a date and time like 21/07/24, 03:04:55 ({self.order}, hour:minute:second)")
        first, second, year, hour, minute, seconds, half = match.groups()
        day = self._date(first, second, year)
        if day is None:
            raise ValueError(f"is not a date ({self.order})")
        hour_number, minute_number = int(hour), int(minute)
        if half:
            if not 1 <= hour_number <= 12:
                raise ValueError("is not a time: an hour with AM or PM is 1 to 12")
            hour_number = hour_number % 12 + (12 if half.lower() == "pm" else 0)
        if hour_number > 23 or minute_number > 59 or (seconds is not None and int(seconds) > 59):
            raise ValueError("is not a time of day")
        if day not in self.day_offsets:
            self.day_offsets[day] = self.day_offset(day)
        offset = self.day_offsets[day]
        if comma:
            self.days[date_part] = (day, offset)
        if offset is None:
            offset = self._minute_offset(day, hour_number, minute_number)
        if offset[0] not in "+-":
            raise ValueError(offset)
        return f"{day}T{hour_number:02d}:{minute_number:02d}:{seconds or '00'}{offset}"


#: Moodle writes UTF-8, so a file that is not was saved again by something else.
NOT_AS_DOWNLOADED = (": Moodle downloads UTF-8, so the file was changed since (a spreadsheet saved it in another "
                     "encoding); download it again, or save it as \"CSV UTF-8\"")


def _csv_problem(exc: csv.Error) -> str:
    reason = str(exc)
    if reason == "unexpected end of data":
        return 'has a quoted cell that is never closed: every " that opens a cell needs one that closes it'
    if "field larger than field limit" in reason:
        return f"has a cell longer than {csv.field_size_limit():,} characters; is this a Moodle log?"
    return f"cannot be read as CSV ({reason})"


def read_moodle(raw: str | bytes, options: ImportOptions = DEFAULT_IMPORT_OPTIONS) -> Imported:
    """The students of a Moodle log download (see the module's docstring); :class:`MalformedCSV`
    for a file that is not one, :class:`SubmissionError` naming each bad row and column."""
    text = decode_csv(raw, NOT_AS_DOWNLOADED)
    if not text.strip():
        raise MalformedCSV(HEADER_ROW, "the file is empty; download the log again (Reports → Logs → Download)")
    end = text.find("\n")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text if end < 0 else text[:end]),
                        strict=True)
    imported = Imported(format="moodle", record="row", fields=FIELDS)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise MalformedCSV(HEADER_ROW, _csv_problem(exc)) from None
    problems = _read_rows(reader, header, options, imported)
    raise_if(problems, "Moodle log")
    if "\x00" in text:
        _check_storable(imported, problems)
    return imported


def _read_rows(reader, header: list[str], options: ImportOptions, imported: Imported) -> Problems:
    """Each row of ``reader`` into ``imported``; the problems found (the hot loop of a large log)."""
    at = _columns(header)
    time_at, name_at, context_at = at["time"], at.get("user full name"), at.get("event context")
    event_at, description_at, course_at = at["event name"], at["description"], at.get("course")
    width = max(at.values()) + 1

    def column(position: int | None, english: str) -> str:
        return english if position is None else header[position].strip()[:60] or str(position + 1)

    clock_iso = _Clock(options).iso
    excluded = frozenset(options.exclude_users)
    default_namespace = options.namespace or ""
    problems = Problems()
    index: dict[tuple[str, str], int] = {}
    students, origins, skipped = imported.students, imported.origins, imported.skipped
    unit_names, student_names = imported.unit_names, imported.student_names
    user_search, module_search = _USER.search, _MODULE.search
    read, number = 0, HEADER_ROW
    try:
        for number, cells in enumerate(reader, start=HEADER_ROW + 1):
            if not any(cells):
                continue
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            read += 1
            description = cells[description_at]
            user = user_search(description)
            if user is None:
                skipped["no user id in the Description"] += 1
                continue
            user_id = user.group(1)
            if user_id in ("0", "-1"):
                skipped["not a logged-in user (user id 0)"] += 1
                continue
            full_name = cells[name_at].strip() if name_at is not None else ""
            if excluded and (user_id in excluded or full_name.casefold() in excluded):
                skipped["a user left out by exclude_users"] += 1
                continue
            try:
                stamp = clock_iso(cells[time_at])
            except ValueError as exc:
                cell = cells[time_at].strip()[:60]
                problems[location(number, column(time_at, "Time"))] = f"{cell!r} {exc}"
                continue
            context = cells[context_at].strip() if context_at is not None else ""
            module = module_search(description)
            unit = module.group(1) if module else context
            if not unit:
                problems[location(number, column(context_at, "Event context"))] = (
                    "is empty, and the Description names no course module")
                continue
            namespace = cells[course_at].strip() if course_at is not None else ""
            if namespace in _NO_NAME:
                namespace = default_namespace
            position = index.get((namespace, user_id))
            if position is None:
                position = index[(namespace, user_id)] = len(students)
                students.append({"student_id": user_id, "namespace": namespace, "events": []})
                origins.append([])
                if full_name not in _NO_NAME:
                    student_names.setdefault(namespace, {})[user_id] = full_name
            students[position]["events"].append({"unit": unit, "type": cells[event_at].strip() or None,
                                                 "created_time": stamp})
            origins[position].append(number)
            if module and context:
                names = unit_names.get(namespace)
                if names is None:
                    names = unit_names[namespace] = {}
                if unit not in names:
                    names[unit] = context
    except csv.Error as exc:  # only the reader raises it, for the row after the last one read
        raise MalformedCSV(number + 1, _csv_problem(exc)) from None
    imported.read = read
    return problems


def _check_storable(imported: Imported, problems: Problems) -> None:
    """Rows whose cells the database cannot store (a NUL), named by row and column (a name
    holding one is not kept: see :func:`.common.shown_name`)."""
    for student, numbers in zip(imported.students, imported.origins):
        for event, number in zip(student["events"], numbers):
            for name in ("unit", "type"):
                problem = text_problem(event[name] or "")
                if problem:
                    problems[location(number, FIELDS[name])] = problem
        problem = text_problem(student["namespace"])
        if problem:
            problems[location(numbers[0], FIELDS["namespace"])] = problem
    raise_if(problems, "Moodle log")
