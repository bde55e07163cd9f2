"""When a subscription is due, and what a subscription request may say.

A monthly subscription runs on ``day`` of the month after its period at ``time`` in the class's
zone (the report for November on 1 December at 07:00); a weekly one on ISO weekday ``day``
(1 = Monday) after the ISO week it reports, at ``time``. Rules where the issue left a choice:

* ``day`` 29, 30 or 31 of a shorter month is that month's last day (a subscription for the 31st
  runs on 28 February), so every month has its run.
* A local time that does not exist (the hour skipped when clocks go forward) is read with the
  offset before the change, so 02:30 on the last Sunday of March in Berlin runs at 03:30 CEST;
  a time that happens twice (clocks go back) runs at its first occurrence.
* Times are kept as microseconds since 1970 UTC, as the class's events are, so comparing
  "due" with "now" is one integer comparison the database answers from an index.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from .periods import to_microseconds
from .submission import Problems, raise_if, type_name

EVERY = ("month", "week")
TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
MAX_RECIPIENTS = 50
MAX_EMAIL_CHARS = 254
DEFAULTS = {"day": 1, "time": "07:00", "formats": ["pdf"], "recipients": [], "students": False,
            "skip_if_empty": True, "options": None, "callback_url": None, "paused": False}
FIELDS = ("namespace", "every", *DEFAULTS)
#: What ``PATCH`` may change: everything but the class.
CHANGEABLE = tuple(field for field in FIELDS if field != "namespace")


@dataclass(frozen=True, slots=True)
class Due:
    """One run: at ``at`` (UTC), for ``period`` (``2024-11`` or ``2024-W48``)."""

    at: datetime
    period: str

    @property
    def at_us(self) -> int:
        return to_microseconds(self.at)


def _local(day: date, clock: str, zone_name: str) -> datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone_name))
    return datetime.fromtimestamp(local.timestamp(), timezone.utc)


def _month_due(year: int, month: int, day: int, clock: str, zone_name: str) -> Due:
    """The run in (year, month), for the month before."""
    last = calendar.monthrange(year, month)[1]
    before = (year - 1, 12) if month == 1 else (year, month - 1)
    return Due(_local(date(year, month, min(day, last)), clock, zone_name), f"{before[0]:04d}-{before[1]:02d}")


def _week_due(monday: date, day: int, clock: str, zone_name: str) -> Due:
    """The run in the ISO week starting ``monday``, for the week before."""
    year, week, _ = (monday - timedelta(days=7)).isocalendar()
    return Due(_local(monday + timedelta(days=day - 1), clock, zone_name), f"{year:04d}-W{week:02d}")


def due_after(every: str, day: int, clock: str, zone_name: str, after: datetime) -> Due:
    """The first run strictly after ``after`` (an aware time)."""
    local = after.astimezone(ZoneInfo(zone_name)).date()
    if every == "month":
        year, month = local.year, local.month
        for _ in range(3):
            due = _month_due(year, month, day, clock, zone_name)
            if due.at > after:
                return due
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        raise AssertionError("a month always has a run")
    monday = local - timedelta(days=local.weekday())
    for _ in range(3):
        due = _week_due(monday, day, clock, zone_name)
        if due.at > after:
            return due
        monday += timedelta(days=7)
    raise AssertionError("a week always has a run")


def due_of_period(every: str, day: int, clock: str, zone_name: str, period: str) -> Due:
    """When the run of ``period`` (``2024-11``, ``2024-W48``) is due."""
    if every == "month":
        year, month = (int(part) for part in period.split("-"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return _month_due(year, month, day, clock, zone_name)
    year, week = int(period[:4]), int(period[6:])
    return _week_due(date.fromisocalendar(year, week, 1) + timedelta(days=7), day, clock, zone_name)


def _recipients(value: Any, errors: Problems) -> list[str]:
    if not isinstance(value, list):
        errors["recipients"] = f"must be an array of email addresses, not {type_name(value)}"
        return []
    if len(value) > MAX_RECIPIENTS:
        errors["recipients"] = f"has {len(value):,} addresses; a subscription may have at most {MAX_RECIPIENTS}"
        return []
    found: list[str] = []
    for index, address in enumerate(value):
        path = f"recipients[{index}]"
        if not isinstance(address, str):
            errors[path] = f"must be a string, not {type_name(address)}"
        elif len(address) > MAX_EMAIL_CHARS or any(char in address for char in "\r\n\x00"):
            errors[path] = f"must be one email address of at most {MAX_EMAIL_CHARS} characters, without line breaks"
        else:
            try:
                normalized = validate_email(address.strip(), check_deliverability=False).normalized
            except EmailNotValidError as exc:
                errors[path] = f"{address[:80]!r} is not a valid email address: {exc}"
                continue
            if normalized.casefold() not in {known.casefold() for known in found}:
                found.append(normalized)
    return found


def parse_subscription(document: Any, formats: tuple[str, ...], *, current: dict | None = None) -> dict:
    """The validated fields of a subscription request (``current``: the stored ones a ``PATCH``
    changes), every problem named by path at once; ``options`` and ``callback_url`` are returned
    as given, for the caller to check as an upload's envelope would."""
    errors = Problems()
    if not isinstance(document, dict):
        errors["$"] = f"must be an object, not {type_name(document)}"
        raise_if(errors, "subscription")
    allowed = CHANGEABLE if current is not None else FIELDS
    for key in sorted(set(document) - set(allowed)):
        errors[str(key)[:100]] = (f"is not a field of a subscription; use {', '.join(allowed)}" if key in FIELDS
                                  or current is None else "cannot be changed; a subscription stays with its class")
    merged = {**DEFAULTS, **(current or {}), **document}
    if current is None and not isinstance(document.get("namespace"), str):
        errors["namespace"] = f"must be a class's namespace (a string), not {type_name(document.get('namespace'))}"
    every = merged.get("every")
    if every not in EVERY:
        errors["every"] = f"must be \"month\" or \"week\", not {str(every)[:40]!r}"
    day = merged["day"]
    top = 31 if every == "month" else 7
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= top:
        errors["day"] = (f"must be a day of the month from 1 to 31 (29 to 31 mean the month's last day when it is "
                         f"shorter), not {str(day)[:20]}" if every == "month"
                         else f"must be a day of the week from 1 (Monday) to 7 (Sunday), not {str(day)[:20]}")
    clock = merged["time"]
    if not isinstance(clock, str) or not TIME.fullmatch(clock):
        errors["time"] = f"must be a local time from 00:00 to 23:59 as HH:MM, not {str(clock)[:20]!r}"
    chosen = merged["formats"]
    if (not isinstance(chosen, list) or not chosen or len(chosen) > len(formats)
            or any(not isinstance(name, str) or name not in formats for name in chosen)
            or len(set(chosen)) != len(chosen)):
        errors["formats"] = f"must be a non-empty array of distinct formats among {', '.join(formats)}"
    recipients = _recipients(merged["recipients"], errors)
    for flag in ("students", "skip_if_empty", "paused"):
        if not isinstance(merged[flag], bool):
            errors[flag] = f"must be true or false, not {type_name(merged[flag])}"
    if not errors and not recipients and not merged["students"]:
        errors["recipients"] = "give at least one address, or \"students\": true, or nobody gets the reports"
    raise_if(errors, "subscription")
    return {**merged, "recipients": recipients}
