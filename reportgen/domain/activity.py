"""Activity over time: what a period of a class looks like day by day or week by week, how each
student changed from the period before, and who went quiet.

Rules (the report's "How to read" says them in words):

* **Buckets**: a span of up to :data:`DAILY_UP_TO_DAYS` days is drawn per day, a longer one per
  ISO week (Monday to Sunday), in the report's time zone. A bucket holds a student's events and
  time on task (the gap before an event, when at most the idle cutoff, credited to the bucket of
  that event, as :mod:`.analytics` credits it to its unit).
* **Class median**: per bucket, the median over the students of the report (a student without
  events in a bucket counts as 0 there), drawn beside each student.
* **Change**: events, time on task and active days (distinct local dates) of the period against
  the previous period of the same length, as a whole percentage (none when the previous was 0).
* **Went quiet**: active in the period, but nothing in its last :data:`QUIET_DAYS` days (the last
  quarter of the period, for periods of :data:`QUIET_DAYS` × 2 days or fewer).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from statistics import median

DAILY_UP_TO_DAYS = 31
QUIET_DAYS = 14
#: Reports whose events span more than this many days get the activity section.
ACTIVITY_AFTER_DAYS = 7

_UTC = timezone.utc


def quiet_span(start: datetime, end: datetime) -> timedelta:
    """How long the end of a period must be empty for a student to have "gone quiet"."""
    length = end - start
    return timedelta(days=QUIET_DAYS) if length > timedelta(days=2 * QUIET_DAYS) else length / 4


def went_quiet(last_event: datetime | None, start: datetime, end: datetime) -> bool:
    """Active in ``[start, end)`` but not in its quiet span (see :func:`quiet_span`)."""
    return last_event is not None and start <= last_event < end - quiet_span(start, end)


def change_percent(now: float, before: float) -> int | None:
    """``+40`` for 140 after 100; None when there was nothing before to compare with."""
    if not before:
        return None
    return round((now - before) * 100 / before)


@dataclass(frozen=True, slots=True)
class Buckets:
    """The days or weeks of a span: ``starts`` are local dates, ``per`` is ``day`` or ``week``."""

    per: str
    starts: tuple[date, ...]
    zone: tzinfo

    def index(self, moment: datetime) -> int | None:
        day = moment.astimezone(self.zone).date()
        if self.per == "week":
            day = day - timedelta(days=day.weekday())
        position = (day - self.starts[0]).days // (1 if self.per == "day" else 7)
        return position if 0 <= position < len(self.starts) else None

    def labels(self) -> list[str]:
        return [start.isoformat() for start in self.starts]


def buckets(start: datetime, end: datetime, zone: tzinfo = _UTC) -> Buckets:
    """Days (spans up to :data:`DAILY_UP_TO_DAYS` days) or ISO weeks from ``start`` to ``end`` (exclusive)."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    if (last - first).days + 1 <= DAILY_UP_TO_DAYS:
        return Buckets("day", tuple(first + timedelta(days=n) for n in range((last - first).days + 1)), zone)
    monday = first - timedelta(days=first.weekday())
    weeks = (last - monday).days // 7 + 1
    return Buckets("week", tuple(monday + timedelta(days=7 * n) for n in range(weeks)), zone)


@dataclass(frozen=True, slots=True)
class StudentActivity:
    events: tuple[int, ...]
    seconds: tuple[int, ...]
    active_days: int
    last_event: datetime | None


def student_activity(times: list[datetime], grid: Buckets, idle_cutoff_minutes: int) -> StudentActivity:
    """Events and time on task per bucket of one student's timed events (ascending)."""
    events = [0] * len(grid.starts)
    seconds = [0.0] * len(grid.starts)
    cutoff = timedelta(minutes=idle_cutoff_minutes)
    days = set()
    previous = None
    for moment in times:
        position = grid.index(moment)
        if position is not None:
            events[position] += 1
            if previous is not None and moment - previous <= cutoff:
                seconds[position] += (moment - previous).total_seconds()
        days.add(moment.astimezone(grid.zone).date())
        previous = moment
    return StudentActivity(tuple(events), tuple(int(value) for value in seconds), len(days),
                           times[-1] if times else None)


def class_medians(students: list[StudentActivity]) -> dict[str, list[float]]:
    """Per bucket, the median of the students' events and seconds (0 for a student without any)."""
    if not students:
        return {"events": [], "seconds": []}
    count = len(students[0].events)
    return {"events": [float(median(s.events[n] for s in students)) for n in range(count)],
            "seconds": [float(median(s.seconds[n] for s in students)) for n in range(count)]}


def period_span(times: list[datetime]) -> tuple[datetime, datetime] | None:
    """The days an upload's timed events cover (first day's midnight to the day after the last, UTC)."""
    if not times:
        return None
    first, last = min(times).astimezone(_UTC), max(times).astimezone(_UTC)
    start = datetime.combine(first.date(), datetime.min.time(), tzinfo=_UTC)
    end = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), tzinfo=_UTC)
    return start, end
