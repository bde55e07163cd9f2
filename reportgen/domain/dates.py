"""Times for people and for programs, the same in every locale: ISO 8601 in UTC for the API,
``23 Nov 2026`` and ``2026-11-23 17:01 UTC`` for pages and emails.
"""
from __future__ import annotations

from datetime import datetime, timezone


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, which are UTC."""
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC."""
    moment = as_utc(moment)
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_month(moment: datetime, year: bool = True) -> str:
    """``23 Nov 2026`` (``23 Nov`` without the year) of a UTC time, the same in every locale."""
    return f"{moment.day} {MONTHS[moment.month - 1]}" + (f" {moment.year}" if year else "")


def when(moment: datetime | None) -> str:
    """A time for people: ``2026-11-23 17:01 UTC`` (empty for none)."""
    moment = as_utc(moment)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else ""

