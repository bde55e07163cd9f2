"""Periods of a class's history: a calendar month (``2024-12``), an ISO week (``2024-W50``) or a
window (``{"from", "to"}``), read in the class's own time zone.

A teacher in Berlin means Berlin's December: an event at 23:30 UTC on 30 November is December
there. So a period is first a range of local dates (or local date-times) and then the two UTC
instants that bound it (start inclusive, end exclusive), computed with the zone's rules for each
bound, so a month that crosses a daylight-saving change is still exactly that month. Bounds are
what :class:`~reportgen.domain.options.Window` keeps, so a period report is an ordinary report
with a window (the same sequences and metrics as uploading the same events with that window).

The previous period of one is the period of the same kind just before it (November for
December, week 49 for week 50), and of a window the range of the same length that ends where it
starts: what "up 40% from November" compares with.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from .dates import MONTHS
from .figures import zone
from .figures import zone_names as known_zones
from .options import Window
from .submission import SubmissionError, text_problem, type_name

DEFAULT_TIMEZONE = "UTC"
MAX_TIMEZONE_CHARS = 64
#: Years a period may name: what every stored time can be (see submission.FIRST_YEAR).
FIRST_YEAR, LAST_YEAR = 1900, 9998

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_FULL_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_MICROSECOND = timedelta(microseconds=1)


class PeriodError(SubmissionError):
    """A period, window or zone that cannot be read (400): ``path`` names the field, ``reason`` says why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"invalid {path.split('.')[0]}", {path: reason})
        self.path = path
        self.reason = reason


def _zone_names() -> frozenset[str]:
    return known_zones() | {DEFAULT_TIMEZONE}


def zone_names() -> list[str]:
    """Every IANA zone name this machine knows, sorted (what a class's zone may be)."""
    return sorted(_zone_names())


def parse_timezone(value: Any, path: str = "timezone") -> str:
    """An IANA zone name as given (``Europe/Berlin``), or :class:`PeriodError`."""
    if not isinstance(value, str):
        raise PeriodError(path, f"must be an IANA time zone name such as Europe/Berlin, not {type_name(value)}")
    if len(value) > MAX_TIMEZONE_CHARS or text_problem(value) or value not in _zone_names():
        shown = value[:60].encode("unicode_escape").decode("ascii")
        raise PeriodError(path, f"{shown!r} is not an IANA time zone name (such as Europe/Berlin, "
                                "America/New_York or UTC)")
    return value




@dataclass(frozen=True, slots=True)
class Period:
    """A range of a class's history: ``kind`` is ``month``, ``week`` or ``window``; ``start`` and
    ``end`` are local times in ``timezone`` (end exclusive); ``name`` is how people say it."""

    kind: str
    start: datetime
    end: datetime
    timezone: str
    text: str

    @property
    def window(self) -> Window:
        """The same range as UTC instants, as a report's ``options.window`` keeps it."""
        return Window(start=self.start.astimezone(_UTC), end=self.end.astimezone(_UTC))

    @property
    def start_us(self) -> int:
        return to_microseconds(self.start)

    @property
    def end_us(self) -> int:
        return to_microseconds(self.end)

    @property
    def name(self) -> str:
        """``December 2024``, ``week 50 of 2024 (9 Dec to 15 Dec)``, ``2024-12-01 to 2024-12-10``."""
        if self.kind == "month":
            return f"{_FULL_MONTHS[self.start.month - 1]} {self.start.year}"
        last = self.end - timedelta(microseconds=1)
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return (f"week {week} of {year} ({self.start.day} {MONTHS[self.start.month - 1]} to "
                    f"{last.day} {MONTHS[last.month - 1]})")
        return f"{_local_text(self.start)} to {_local_text(last, end=True)}"

    @property
    def days(self) -> int:
        """Calendar days the period covers (a part day counts)."""
        return max(1, (self.end.date() - self.start.date()).days + (self.end.time() != time(0)))

    def previous(self) -> Period:
        """The period of the same kind just before (a window: the same length, ending at its start)."""
        tz = self.start.tzinfo
        if self.kind == "month":
            year, month = (self.start.year - 1, 12) if self.start.month == 1 else (self.start.year, self.start.month - 1)
            return month_period(year, month, self.timezone)
        if self.kind == "week":
            monday = self.start.date() - timedelta(days=7)
            year, week, _ = monday.isocalendar()
            return week_period(year, week, self.timezone)
        length = self.end.astimezone(_UTC) - self.start.astimezone(_UTC)
        start = (self.start.astimezone(_UTC) - length).astimezone(tz)
        return Period("window", start, self.start, self.timezone, "")

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "timezone": self.timezone,
                "from": self.start.isoformat(), "to": self.end.isoformat(),
                **({"period": self.text} if self.kind != "window" else {})}


def _local_text(moment: datetime, end: bool = False) -> str:
    if moment.time() == time(0) or (end and moment.time() == time(23, 59, 59, 999999)):
        return moment.date().isoformat()
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")


def to_microseconds(moment: datetime) -> int:
    """An aware time as microseconds since 1970-01-01 UTC: how a stored event keeps its time."""
    return (moment - _EPOCH) // _MICROSECOND


def from_microseconds(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def epoch_day(moment: datetime) -> int:
    """The UTC day of an aware time as days since 1970-01-01: how a stored event keeps the day it
    was stored (a small integer, 2 bytes in SQLite's record until 2059)."""
    return (moment.astimezone(_UTC).date() - _EPOCH.date()).days


_DAY_US = 86_400_000_000
_BUCKET_US = 900_000_000


class LocalDays:
    """An instant (microseconds since 1970 UTC) → its local date in a zone, as days since
    1970-01-01: the key of a class's per-day roll-up. The zone's offset is looked up once per
    quarter hour of UTC (zones change offset on quarter hours; a quarter whose two ends differ is
    computed exactly), so a million events cost a few thousand ``utcoffset`` calls."""

    __slots__ = ("_tz", "_offsets")

    def __init__(self, timezone_name: str):
        self._tz = zone(timezone_name)
        self._offsets: dict[int, int | None] = {}

    def _offset_us(self, at: int) -> int:
        return self._tz.utcoffset(from_microseconds(at)) // _MICROSECOND

    def __call__(self, at: int) -> int:
        bucket = at // _BUCKET_US
        try:
            offset = self._offsets[bucket]
        except KeyError:
            first, last = self._offset_us(bucket * _BUCKET_US), self._offset_us((bucket + 1) * _BUCKET_US - 1)
            offset = self._offsets[bucket] = first if first == last else None
        if offset is None:
            offset = self._offset_us(at)
        return (at + offset) // _DAY_US

    def span(self, at: int) -> tuple[int, int]:
        """The local day of ``at`` and the instant the next one begins (its local midnight)."""
        day = self(at)
        following = datetime.combine(_EPOCH.date() + timedelta(days=day + 1), time(0), tzinfo=self._tz)
        return day, max(to_microseconds(following), at + 1)


def period_days(period: Period) -> tuple[int, int] | None:
    """The local days ``[first, end)`` a period covers, when it begins and ends at local midnight
    (every month and week; a window of whole dates), else None."""
    if period.start.time() != time(0) or period.end.time() != time(0):
        return None
    epoch = _EPOCH.date()
    return (period.start.date() - epoch).days, (period.end.date() - epoch).days


def _local_midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def month_period(year: int, month: int, timezone_name: str) -> Period:
    tz = zone(timezone_name)
    start = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Period("month", _local_midnight(start, tz), _local_midnight(end, tz), timezone_name,
                  f"{year:04d}-{month:02d}")


def week_period(year: int, week: int, timezone_name: str) -> Period:
    tz = zone(timezone_name)
    monday = date.fromisocalendar(year, week, 1)
    return Period("week", _local_midnight(monday, tz), _local_midnight(monday + timedelta(days=7), tz),
                  timezone_name, f"{year:04d}-W{week:02d}")


def parse_period(value: Any, timezone_name: str, path: str = "period") -> Period:
    """``2024-12`` (a month) or ``2024-W50`` (an ISO week) in the zone; :class:`PeriodError` else."""
    if not isinstance(value, str):
        raise PeriodError(path, f"must be a month such as 2024-12 or an ISO week such as 2024-W50, "
                                f"not {type_name(value)}")
    shown = value[:40].encode("unicode_escape").decode("ascii")
    if (match := _MONTH.fullmatch(value)) is not None:
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise PeriodError(path, f"{shown!r} names month {month}; months are 01 to 12")
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise PeriodError(path, f"{shown!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
        return month_period(year, month, timezone_name)
    if (match := _WEEK.fullmatch(value)) is not None:
        year, week = int(match[1]), int(match[2])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise PeriodError(path, f"{shown!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
        try:
            return week_period(year, week, timezone_name)
        except ValueError:
            raise PeriodError(path, f"{shown!r}: {year} has no ISO week {week}") from None
    raise PeriodError(path, f"{shown!r} is not a period: write a month as 2024-12 or an ISO week as 2024-W50")


def _window_bound(value: Any, tz, path: str, *, end: bool) -> datetime:
    if not isinstance(value, str):
        raise PeriodError(path, f"must be a date (2024-12-01) or a date-time, not {type_name(value)}")
    shown = value[:40].encode("unicode_escape").decode("ascii")
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                raise ValueError
            return _local_midnight(day + timedelta(days=1) if end else day, tz)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        if not FIRST_YEAR <= moment.astimezone(_UTC).year <= LAST_YEAR:
            raise ValueError
        return (moment + timedelta(microseconds=1) if end else moment).astimezone(tz)
    except (ValueError, OverflowError):
        raise PeriodError(path, f"{shown!r} is not a date (2024-12-01) or an ISO 8601 date-time "
                                f"in the years {FIRST_YEAR} to {LAST_YEAR}") from None


def parse_window(value: Any, timezone_name: str, path: str = "window") -> Period:
    """``{"from": "2024-12-01", "to": "2024-12-10"}``, both inclusive, dates and zone-less
    date-times in the class's zone; both bounds required, ``from`` before ``to``."""
    if not isinstance(value, dict):
        raise PeriodError(path, f"must be an object with from and to, not {type_name(value)}")
    unknown = sorted(set(value) - {"from", "to"})
    if unknown:
        raise PeriodError(f"{path}.{unknown[0]}"[:200], "is not a window field; use from and to")
    tz = zone(timezone_name)
    for key in ("from", "to"):
        if value.get(key) is None:
            raise PeriodError(f"{path}.{key}", "is required")
    start = _window_bound(value["from"], tz, f"{path}.from", end=False)
    end = _window_bound(value["to"], tz, f"{path}.to", end=True)
    if end <= start:
        raise PeriodError(f"{path}.to", "must not be before from")
    return Period("window", start, end, timezone_name, "")


def period_from_request(body: dict, timezone_name: str) -> Period:
    """The period an API request names: exactly one of ``period`` and ``window``."""
    if ("period" in body) == ("window" in body):
        raise PeriodError("period", "give either period (2024-12 or 2024-W50) or window ({\"from\", \"to\"}), "
                                    "not both and not neither")
    if "period" in body:
        return parse_period(body["period"], timezone_name)
    return parse_window(body["window"], timezone_name)


def months_between(first_us: int, last_us: int, timezone_name: str) -> list[str]:
    """``2024-09``, ``2024-10`` … from the month of the first time to that of the last, in the zone."""
    tz = zone(timezone_name)
    first, last = from_microseconds(first_us).astimezone(tz), from_microseconds(last_us).astimezone(tz)
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
