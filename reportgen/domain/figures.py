"""How the report's figures read: one duration format, whole counts, times in one time zone.

A teacher read "01:03:49" beside "1 h 03 min" and "105.8 events" in the same report (issue 19).
So every duration a report prints goes through :func:`format_duration` (``1 h 03 min``,
``2 d 4 h 05 min``), every count a person reads is a whole number (:func:`whole`, halves up:
a 15th percentile of 105.8 events reads 106), and every time is shown in the report's time
zone (the ``timezone`` option, UTC by default) by :func:`format_time` and
:func:`format_minute`. The JSON keeps exact values (seconds, ISO 8601 UTC).
"""
from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, available_timezones

UTC = timezone.utc
UTC_NAME = "UTC"


@functools.cache
def zone_names() -> frozenset[str]:
    """Every IANA zone name this machine's time-zone database has (``Europe/Berlin``, ``UTC``)."""
    return frozenset(available_timezones())


def zone(name: str | None) -> tzinfo:
    """The zone a report shows its times in: ``None`` is UTC."""
    return UTC if name is None or name == UTC_NAME else ZoneInfo(name)


def zone_label(moment: datetime) -> str:
    """What follows a time: ``UTC``, or the zone's abbreviation then (``CEST``, ``+07``)."""
    name = moment.tzname() or UTC_NAME
    return UTC_NAME if name in ("UTC", "Z") else name


def format_duration(seconds: float | int | timedelta | None) -> str:
    """``40 s``, ``12 min``, ``1 h 05 min``, ``2 d 4 h 05 min``; ``0 min`` for none, ``—`` for unknown."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    whole_seconds = int(math.floor(seconds + 0.5))
    if whole_seconds <= 0:
        return "0 min"
    if whole_seconds < 60:
        return f"{whole_seconds} s"
    minutes = whole_seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h {minutes:02d} min"


def whole(value: float | int) -> int:
    """A count as people read it: the nearest whole number, halves up (105.5 → 106)."""
    return int(math.floor(value + 0.5))


def format_time(moment: datetime | None, where: tzinfo = UTC) -> str:
    """``2024-07-21 05:04:55.939 CEST``: second precision, milliseconds when present, the zone's name."""
    if moment is None:
        return "—"
    moment = moment.astimezone(where)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return f"{text} {zone_label(moment)}"


def format_minute(moment: datetime | None, where: tzinfo = UTC) -> str:
    """``2024-07-21 05:04`` in ``where``: first and last touches, where seconds would be noise."""
    return moment.astimezone(where).strftime("%Y-%m-%d %H:%M") if moment else "—"


def format_day(moment: datetime, where: tzinfo = UTC) -> str:
    """``Jul 21``: a timeline's axis."""
    local = moment.astimezone(where)
    return f"{local.strftime('%b')} {local.day}"


def format_multiple(count: float) -> str:
    """A ratio in words: ``3×``, ``2.5×`` (one decimal under 10)."""
    shown = round(count) if count >= 10 else round(count, 1)
    return f"{shown:g}×"


def format_ratio(value: float | None) -> str:
    """Saves per submission as people read them: ``80``, ``2.5``, ``0.64``, ``—`` for none."""
    if value is None:
        return "—"
    if value >= 10:
        return f"{float(value):.0f}"
    return f"{float(value):.{1 if value >= 1 else 2}f}".rstrip("0").rstrip(".")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 event``, ``3 events``."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"
