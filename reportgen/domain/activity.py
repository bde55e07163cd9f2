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
  quarter of the period, for periods of :data:`QUIET_DAYS` × 2 days or fewer), while at least
  :data:`QUIET_CLASS_SHARE` of the class was active then. Without that, an upload whose students
  worked at different times (most of them done when a few late starters began) called nearly
  every student quiet: 27 of 30 of ``bench/synthetic.mixed_class``; a class that stopped as a
  whole (the course ended) is not a student gone quiet.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from statistics import median

DAILY_UP_TO_DAYS = 31
QUIET_DAYS = 14
#: The share of a class active in the quiet span for its silent students to have gone quiet.
QUIET_CLASS_SHARE = 0.5
#: Reports whose events span more than this many days get the activity section.
ACTIVITY_AFTER_DAYS = 7
#: Nor for a span longer than this (about two years, 105 weeks): a chart of thousands of weeks
#: (an upload from 1900 to 9999 is valid) would cost more than the report and say nothing.
ACTIVITY_UP_TO_DAYS = 731

_UTC = timezone.utc


def quiet_span(start: datetime, end: datetime) -> timedelta:
    """How long the end of a period must be empty for a student to have "gone quiet"."""
    length = end - start
    return timedelta(days=QUIET_DAYS) if length > timedelta(days=2 * QUIET_DAYS) else length / 4


def went_quiet(last_event: datetime | None, start: datetime, end: datetime) -> bool:
    """Active in ``[start, end)`` but not in its quiet span (see :func:`quiet_span`)."""
    return last_event is not None and start <= last_event < end - quiet_span(start, end)


def day_totals(times: list[int], local_days, cutoff_us: int) -> dict[int, list[int]]:
    """A student's events (times in microseconds, in order) per local day: ``{day: [events, time
    on task within the day, first, last]}``; ``local_days.span(at)`` gives an instant's day and
    when the next begins (:class:`reportgen.domain.periods.LocalDays`), asked once a day. Time on
    task within a day is the sum of the gaps of at most ``cutoff_us`` between its consecutive
    events; the gap from the day before is left to the reader, who knows whether that day is in
    its period (see :mod:`reportgen.history.summary`)."""
    days: dict[int, list[int]] = {}
    totals: list[int] = []
    ends = -(2 ** 63)  # before any time: a time before 1970 is negative (-1 took one for a day begun)
    for at in times:
        if at < ends:
            gap = at - totals[3]
            totals[0] += 1
            if gap <= cutoff_us:
                totals[1] += gap
            totals[3] = at
        else:
            day, ends = local_days.span(at)
            totals = days[day] = [1, 0, at, at]
    return days


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
    if last.date() == date.max:  # no day after the last one a time can name: the span ends with it
        return start, datetime.max.replace(tzinfo=_UTC)
    end = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), tzinfo=_UTC)
    return start, end


QUIET_TEXT = "Went quiet: active earlier in the period, no events in its last {span}."
ACTIVITY_RULES = (
    ("Activity over time", f"events and time on task per day (spans up to {DAILY_UP_TO_DAYS} days) or per ISO week "
                           "(longer spans), beside the class median of each day or week (a student without events "
                           f"there counts as 0); shown when the events span more than {ACTIVITY_AFTER_DAYS} days and at most "
                           f"{ACTIVITY_UP_TO_DAYS}."),
    ("Change", "a period report compares each student's events, time on task and active days with the previous "
               "period of the same length (November for December), as a percentage."),
    ("Went quiet", f"active in the period, but no events in its last {QUIET_DAYS} days (the last quarter of "
                   f"periods of {2 * QUIET_DAYS} days or fewer) while at least half the class had events then."),
)


def _span_text(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} days" if days == int(days) else f"{span.total_seconds() / 3600:.0f} hours"


def report_activity(students: list, window, idle_cutoff_minutes: int, zone: tzinfo = _UTC) -> list[dict | None]:
    """Per student (in order), the ``activity`` of its metrics, or None for every student when the
    report's span (its window, else its events' days) is :data:`ACTIVITY_AFTER_DAYS` days or less,
    or longer than :data:`ACTIVITY_UP_TO_DAYS`.
    Days and weeks are those of ``zone`` (a class's, for a period report)."""
    times = [sorted(event.created_at for event in student.events if event.created_at is not None)
             for student in students]
    if window is not None and window.start is not None and window.end is not None:
        span = (window.start, window.end)
    else:
        span = period_span([moment for student_times in times for moment in student_times])
    if span is None or not timedelta(days=ACTIVITY_AFTER_DAYS) < span[1] - span[0] <= timedelta(
            days=ACTIVITY_UP_TO_DAYS):
        return [None] * len(students)
    start, end = span
    grid = buckets(start, end, zone)
    activities = [student_activity(student_times, grid, idle_cutoff_minutes) for student_times in times]
    by_namespace: dict[str, list[StudentActivity]] = {}
    for student, activity in zip(students, activities):
        by_namespace.setdefault(student.namespace, []).append(activity)
    medians = {namespace: class_medians(members) for namespace, members in by_namespace.items()}
    quiet_from = end - quiet_span(start, end)
    busy = {namespace: sum(1 for member in members if member.last_event is not None and member.last_event >= quiet_from)
            >= QUIET_CLASS_SHARE * len(members) for namespace, members in by_namespace.items()}
    return [{
        "per": grid.per, "starts": grid.labels(), "events": list(activity.events), "seconds": list(activity.seconds),
        "class_median_events": medians[student.namespace]["events"],
        "class_median_seconds": medians[student.namespace]["seconds"],
        "active_days": activity.active_days,
        "went_quiet": busy[student.namespace] and went_quiet(activity.last_event, start, end),
        "quiet_span": _span_text(quiet_span(start, end)),
    } for student, activity in zip(students, activities)]


def class_activity(activities: list[Mapping | None]) -> dict | None:
    """A class's own activity from its students' (one period, one grid): per day or week, the
    events and time on task of the whole class and how many students had any; None without
    activity."""
    shown = [activity for activity in activities if activity]
    if not shown:
        return None
    columns = list(zip(*(activity["events"] for activity in shown)))
    return {"per": shown[0]["per"], "starts": shown[0]["starts"], "events": [sum(column) for column in columns],
            "seconds": [sum(column) for column in zip(*(activity["seconds"] for activity in shown))],
            "students": [sum(1 for value in column if value) for column in columns]}


def add_change(activity: dict, now: tuple[int, int, int], before: tuple[int, int, int] | None,
               previous_name: str) -> None:
    """Each figure's change from the previous period, in ``activity["change"]``: ``now`` and
    ``before`` are (events, time on task in seconds, active days)."""
    before = before or (0, 0, 0)
    activity["change"] = {"previous_period": previous_name, **{
        name: {"now": value, "before": old, "percent": change_percent(value, old)}
        for name, value, old in zip(("events", "time_on_task_seconds", "active_days"), now, before)}}


def quiet_flag(activity: dict | None) -> dict | None:
    """The "went quiet" flag of a student's ``activity``, as the metrics list flags."""
    if not activity or not activity["went_quiet"]:
        return None
    return {"code": "went_quiet", "text": QUIET_TEXT.format(span=activity["quiet_span"])}
