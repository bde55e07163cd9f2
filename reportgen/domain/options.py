"""Report options: what a submission envelope may ask of its report, validated like every field.

An envelope ``{"students": […], "email": […], "options": {…}}`` may carry::

    "options": {
        "event_log": true,                      # raw one-line-per-event appendix in the PDF
        "idle_cutoff_minutes": 20,              # 1–1440; longer gaps are not time on task
        "units": {"python-101": [7, 3, "intro"]},   # fixes the Q-label order of a namespace
        "window": {"from": "2024-07-01", "to": "2024-07-31"},  # only events in this range
        "unit_names": {"python-101": {"7": "Week 3 quiz"}},    # shown beside the Q labels
        "student_names": {"python-101": {"s-042": "Amira Haddad"}},   # shown beside the ids
        "timezone": "Europe/Berlin"             # IANA zone every time of the report is shown in
    }

Rules where the format leaves a choice:

* ``null`` means "not given", as elsewhere in the format: ``"options": null``, ``"window": null``,
  ``"idle_cutoff_minutes": null`` … all take the default.
* ``units``: a listed unit keeps its position number even when the upload has no event on it,
  so a teacher gets the same Q numbers every week. The k listed units are ``Q1 … Qk`` in list
  order; units of the upload that are not listed follow as ``Qk+1 …`` in the usual
  :func:`~reportgen.domain.submission.unit_sort_key` order. Label mappings only ever contain
  units that occur in the upload, so numbers may have gaps (``Q1, Q3, Q4``).
* ``window`` bounds are inclusive and in UTC: a date as ``from`` is 00:00:00 of that day, a date
  as ``to`` runs through the end of that day; a date-time is read like ``created_time``
  (naive means UTC, offsets honoured). Internally :class:`Window` keeps an *exclusive* end.
  Untimed events are outside every window.
* ``unit_names`` and ``student_names`` only add words to the report; a name for a unit or a
  student the upload does not have is kept and never shown. An import (xAPI, Moodle, Caliper)
  fills them from the file, and names an envelope or form gives win.
* ``timezone``: an IANA name this machine's zone database knows (``Europe/Berlin``,
  ``America/New_York``, ``UTC``), case as the database spells it. It changes how times read
  (and which calendar days count as active), never what is measured: the window stays in UTC,
  the JSON and CSV times stay ISO 8601 with their offset.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from .figures import UTC_NAME, zone_names
from .limits import MAX_CHARS, too_long
from .submission import (
    Problems, Student, canonical_unit, namespace_path, parse_time, raise_if, shown, text_problem, type_name,
)

DEFAULT_IDLE_CUTOFF_MINUTES = 30
MIN_IDLE_CUTOFF_MINUTES = 1
MAX_IDLE_CUTOFF_MINUTES = 1440
KNOWN_OPTIONS = ("event_log", "idle_cutoff_minutes", "units", "window", "unit_names", "student_names", "timezone")
#: A unit's or a student's name is shown beside its label or id, cut to this many characters.
MAX_NAME_CHARS = MAX_CHARS["name"]
WINDOW_KEYS = ("from", "to")

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


def _is_midnight(moment: datetime) -> bool:
    return moment.time() == time(0)


def _bound_text(moment: datetime, *, iso: bool) -> str:
    """A UTC instant as a date when it is midnight, else as a date-time (``Z`` when ``iso``)."""
    if _is_midnight(moment):
        return moment.date().isoformat()
    if iso:
        return moment.replace(tzinfo=None).isoformat() + "Z"
    return moment.replace(tzinfo=None).isoformat(sep=" ")


@dataclass(frozen=True, slots=True)
class Window:
    """Events from ``start`` (inclusive) to ``end`` (exclusive); both aware UTC, either open.

    A ``to`` date is stored as the next midnight, a ``to`` date-time as one microsecond later,
    so two windows that select the same events compare equal.
    """

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime | None) -> bool:
        """Whether an event at ``moment`` is inside; an untimed event (``None``) never is."""
        if moment is None:
            return False
        if self.start is not None and moment < self.start:
            return False
        return self.end is None or moment < self.end

    def _from_value(self, *, iso: bool) -> str | None:
        return None if self.start is None else _bound_text(self.start, iso=iso)

    def _to_value(self, *, iso: bool) -> str | None:
        if self.end is None:
            return None
        if _is_midnight(self.end):
            return (self.end - _ONE_DAY).date().isoformat()
        return _bound_text(self.end - _ONE_MICROSECOND, iso=iso)

    def describe(self) -> str:
        """``2024-07-01 to 2024-07-31 (UTC)``, ``from 2024-07-01 08:00:00 (UTC)``, ``through …``."""
        start, end = self._from_value(iso=False), self._to_value(iso=False)
        if start and end:
            return f"{start} to {end} (UTC)"
        if start:
            return f"from {start} (UTC)"
        if end:
            return f"through {end} (UTC)"
        return "all events"

    def to_dict(self) -> dict[str, str | None]:
        """``{"from": …, "to": …}`` as normalised ISO text (a date, or a UTC date-time with ``Z``)."""
        return {"from": self._from_value(iso=True), "to": self._to_value(iso=True)}


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """What the report should contain; the defaults are what an upload without options gets.

    ``units`` maps a namespace to its canonical units in label order. ``unit_names`` and
    ``student_names`` map a namespace to the names a report shows beside a unit's label and a
    student's id (``{"python-101": {"17": "Week 3 quiz"}}``): what an import from xAPI, Moodle or
    Caliper found in the file, or what an envelope gives. They are copied on construction,
    compared by ``==`` but left out of ``hash()`` (a dict cannot be hashed); treat them as
    read-only.
    """

    event_log: bool = False
    idle_cutoff_minutes: int = DEFAULT_IDLE_CUTOFF_MINUTES
    units: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    window: Window | None = None
    unit_names: dict[str, dict[str, str]] = field(default_factory=dict, hash=False)
    student_names: dict[str, dict[str, str]] = field(default_factory=dict, hash=False)
    timezone: str | None = None
    """An IANA zone name; None shows UTC."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", {ns: tuple(units) for ns, units in self.units.items()})
        for name in ("unit_names", "student_names"):
            object.__setattr__(self, name, {ns: dict(names) for ns, names in getattr(self, name).items()})

    def unit_name(self, namespace: str, unit: str) -> str:
        """The name of a unit of a namespace, or ``""``."""
        return self.unit_names.get(namespace, {}).get(unit, "")

    def student_name(self, namespace: str, student_id: str) -> str:
        """The name of a student of a namespace, or ``""``."""
        return self.student_names.get(namespace, {}).get(student_id, "")

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_OPTIONS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, every key present; :func:`options_from_dict` reads it back unchanged."""
        return {
            "event_log": self.event_log,
            "idle_cutoff_minutes": self.idle_cutoff_minutes,
            "units": {namespace: list(units) for namespace, units in self.units.items()},
            "window": None if self.window is None else self.window.to_dict(),
            "unit_names": {namespace: dict(names) for namespace, names in self.unit_names.items()},
            "student_names": {namespace: dict(names) for namespace, names in self.student_names.items()},
            "timezone": self.timezone,
        }


DEFAULT_OPTIONS = ReportOptions()


def _parse_event_log(value: Any, path: str, errors: dict[str, str]) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        errors[path] = f"must be true or false, not {type_name(value)}"
        return False
    return value


def _parse_idle_cutoff(value: Any, path: str, errors: dict[str, str]) -> int:
    if value is None:
        return DEFAULT_IDLE_CUTOFF_MINUTES
    expected = f"must be an integer from {MIN_IDLE_CUTOFF_MINUTES} to {MAX_IDLE_CUTOFF_MINUTES}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors[path] = f"{expected}, not {type_name(value)}"
    elif isinstance(value, float) or not MIN_IDLE_CUTOFF_MINUTES <= value <= MAX_IDLE_CUTOFF_MINUTES:
        errors[path] = f"{expected}, not {value!r}"
    else:
        return value
    return DEFAULT_IDLE_CUTOFF_MINUTES


def _parse_units(value: Any, path: str, errors: dict[str, str]) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[path] = f"must be an object mapping a namespace to its units, not {type_name(value)}"
        return {}
    order: dict[str, tuple[str, ...]] = {}
    for namespace, listed in value.items():
        list_path = namespace_path(path, namespace)
        if problem := too_long(namespace, "namespace"):
            errors[list_path] = f"names a namespace that {problem}"
            continue
        if not isinstance(listed, list):
            errors[list_path] = f"must be an array of units, not {type_name(listed)}"
            continue
        if not listed:
            errors[list_path] = "must list at least one unit"
            continue
        seen: dict[str, int] = {}
        for index, raw in enumerate(listed):
            unit = canonical_unit(raw)
            if unit is None:
                errors[f"{list_path}[{index}]"] = (
                    f"must be a non-empty string or an integer, not {type_name(raw)}"
                )
            elif problem := too_long(unit, "unit"):
                errors[f"{list_path}[{index}]"] = problem
            elif unit in seen:
                errors[f"{list_path}[{index}]"] = (
                    f"duplicates {list_path}[{seen[unit]}] (unit {unit}); list each unit once"
                )
            else:
                seen[unit] = index
        order[namespace] = tuple(seen)
    return order


def _parse_names(value: Any, path: str, errors: dict[str, str], *, units: bool) -> dict[str, dict[str, str]]:
    """``{namespace: {unit or student id: name}}``; a unit is named by its canonical text."""
    if value is None:
        return {}
    what = "units" if units else "student ids"
    if not isinstance(value, dict):
        errors[path] = f"must be an object mapping a namespace to its {what} and their names, not {type_name(value)}"
        return {}
    names: dict[str, dict[str, str]] = {}
    for namespace, named in value.items():
        named_path = namespace_path(path, namespace)
        if not isinstance(named, dict):
            errors[named_path] = f"must be an object mapping {what} to their names, not {type_name(named)}"
            continue
        found: dict[str, str] = {}
        for key, name in named.items():
            name_path = namespace_path(named_path, key)
            if not isinstance(name, str) or not name.strip():
                errors[name_path] = f"must be a non-empty string, not {type_name(name)}"
            elif key_problem := too_long(key, "unit" if units else "student_id"):
                errors[name_path] = f"names a {'unit' if units else 'student'} that {key_problem}"
            elif len(name) > MAX_NAME_CHARS:
                errors[name_path] = f"must be at most {MAX_NAME_CHARS} characters"
            elif text_problem(name) or text_problem(key):
                errors[name_path] = text_problem(name) or text_problem(key)
            else:
                found[canonical_unit(key) or key if units else key] = name.strip()
        names[namespace] = found
    return names


def _parse_bound(value: Any, path: str, errors: dict[str, str], *, end: bool) -> datetime | None:
    """A date (whole day) or a date-time, as an aware UTC instant; ``end`` gives the exclusive end."""
    if not isinstance(value, str):
        errors[path] = f"must be an ISO 8601 date or date-time string, not {type_name(value)}"
        return None
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    try:
        if day is not None:
            moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return moment + _ONE_DAY if end else moment
        moment = parse_time(text).astimezone(timezone.utc)
        return moment + _ONE_MICROSECOND if end else moment
    except ValueError:
        errors[path] = (
            f"{value[:60]!r} is not an ISO 8601 date or date-time "
            "(e.g. 2024-07-01 or 2024-07-01T08:00:00Z)"
        )
    except OverflowError:
        errors[path] = f"{value[:60]!r} is out of range"
    return None


def _unknown_keys(value: dict, known: tuple[str, ...], noun: str, path: str, errors: dict[str, str]) -> None:
    for key in value:
        if key not in known:
            errors[f"{path}.{shown(key)}"] = f"unknown {noun} {key!r}; known {noun}s are {', '.join(known)}"


def _parse_window(value: Any, path: str, errors: dict[str, str]) -> Window | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors[path] = f"must be an object with \"from\", \"to\" or both, not {type_name(value)}"
        return None
    _unknown_keys(value, WINDOW_KEYS, "key", path, errors)
    raw_from, raw_to = value.get("from"), value.get("to")
    if raw_from is None and raw_to is None:
        errors[path] = "must have \"from\", \"to\" or both"
        return None
    count = len(errors)
    start = None if raw_from is None else _parse_bound(raw_from, f"{path}.from", errors, end=False)
    end = None if raw_to is None else _parse_bound(raw_to, f"{path}.to", errors, end=True)
    if len(errors) > count:
        return None
    if start is not None and end is not None and start >= end:
        errors[path] = f"\"from\" ({raw_from.strip()[:60]}) must not be after \"to\" ({raw_to.strip()[:60]})"
        return None
    return Window(start=start, end=end)


def parse_timezone(value: Any, path: str, errors: dict[str, str]) -> str | None:
    """An IANA zone name (``None`` for UTC); a problem goes into ``errors`` under ``path``."""
    if value is None:
        return None
    example = "an IANA time zone such as Europe/Berlin, America/New_York or UTC"
    if not isinstance(value, str):
        errors[path] = f"must be {example}, not {type_name(value)}"
        return None
    name = value.strip()
    if name not in zone_names():
        errors[path] = f"{value[:60]!r} is not {example}"
        return None
    return None if name == UTC_NAME else name


def parse_options(raw: Any, errors: dict[str, str], path: str = "options") -> ReportOptions:
    """The options of an envelope (``None`` for none); each problem goes into ``errors`` by path.

    The result is only meaningful when nothing was added to ``errors``.
    """
    if raw is None:
        return DEFAULT_OPTIONS
    if not isinstance(raw, dict):
        errors[path] = f"must be an object, not {type_name(raw)}"
        return DEFAULT_OPTIONS
    _unknown_keys(raw, KNOWN_OPTIONS, "option", path, errors)
    return ReportOptions(
        event_log=_parse_event_log(raw.get("event_log"), f"{path}.event_log", errors),
        idle_cutoff_minutes=_parse_idle_cutoff(raw.get("idle_cutoff_minutes"), f"{path}.idle_cutoff_minutes", errors),
        units=_parse_units(raw.get("units"), f"{path}.units", errors),
        window=_parse_window(raw.get("window"), f"{path}.window", errors),
        unit_names=_parse_names(raw.get("unit_names"), f"{path}.unit_names", errors, units=True),
        student_names=_parse_names(raw.get("student_names"), f"{path}.student_names", errors, units=False),
        timezone=parse_timezone(raw.get("timezone"), f"{path}.timezone", errors),
    )


def options_from_dict(data: dict | None) -> ReportOptions:
    """Options stored earlier (e.g. :meth:`ReportOptions.to_dict`); :class:`SubmissionError` if invalid."""
    errors = Problems()
    options = parse_options(data, errors)
    raise_if(errors, "options")
    return options


def apply_window(students: list[Student], window: Window | None) -> tuple[list[Student], int]:
    """Each student with only the events inside ``window``, and how many events were left out.

    Untimed events are left out whenever a window is set. A student left with no events stays
    in the list (with none), so the report still names everyone of the upload.
    """
    if window is None:
        return list(students), 0
    kept: list[Student] = []
    left_out = 0
    for student in students:
        events = tuple(event for event in student.events if window.contains(event.created_at))
        if len(events) == len(student.events):
            kept.append(student)
        else:
            left_out += len(student.events) - len(events)
            kept.append(Student(student_id=student.student_id, namespace=student.namespace, events=events))
    return kept, left_out
