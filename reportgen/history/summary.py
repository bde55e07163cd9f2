"""A class in a period, aggregated in SQL: ``GET /namespaces/<ns>/summary``.

The events of a period are never loaded. A month, a week or a window of whole local dates is
read from the per-day roll-up (:mod:`.rollup`): per student, the sum of its days' events and time
on task, plus the gap from one active day's last event to the next one's first (``LAG`` over the
day rows in the period) when at most the idle cutoff, as the report counts it (though the report
truncates per unit to whole seconds and so may show up to a second less per unit); active days
are the day rows. Any other window is read from the events (``LAG`` over them, with the window's
UTC days named for PostgreSQL's key: :mod:`.event_days`), which on 2.4 million stored events took
374 ms for two months, the roll-up the time BENCHMARKS.md records.
What comes back is one row per active student, from which the percentiles and the flags this
summary can tell without the events' units are taken.
"""
from __future__ import annotations

from fractions import Fraction

from sqlalchemy import bindparam, select, text

from ..domain.activity import change_percent, went_quiet
from ..domain.dates import iso
from ..domain.analytics import DEFAULT_IDLE_CUTOFF_MINUTES, HIGH_PERCENTILE, LOW_PERCENTILE, MIN_COHORT, percentile
from ..domain.periods import Period, from_microseconds, period_days
from ..extensions import db
from ..models import ClassReport, Report, SchoolClass
from ..pipeline.status import status_url
from .event_days import DAY_SQL, days_in, listed_students


def _per_student_from_events(students: str):
    return text(f"""
    SELECT student, COUNT(*) AS events,
           SUM(CASE WHEN gap <= :cutoff THEN gap ELSE 0 END) AS on_task,
           COUNT(DISTINCT (at + :offset) / 86400000000) AS days,
           MIN(at) AS first_at, MAX(at) AS last_at
    FROM (SELECT student, at, at - LAG(at) OVER (PARTITION BY student ORDER BY at) AS gap
          FROM class_events
          WHERE {DAY_SQL} IN :days AND {students} AND at >= :start AND at < :end) AS timed
    GROUP BY student
""").bindparams(bindparam("days", expanding=True))


#: The class's students as a list or as a subquery (:func:`.event_days.listed_students`).
_PER_STUDENT = {True: _per_student_from_events("student = ANY(CAST(:students AS INTEGER[]))"),
                False: _per_student_from_events("student IN (SELECT id FROM class_students WHERE class_id = :class_id)")}


_PER_STUDENT_FROM_DAYS = text("""
    SELECT student, SUM(events) AS events,
           SUM(on_task_us + CASE WHEN first_at - before <= :cutoff THEN first_at - before ELSE 0 END) AS on_task,
           COUNT(*) AS days, MIN(first_at) AS first_at, MAX(last_at) AS last_at
    FROM (SELECT d.student, d.events, d.on_task_us, d.first_at, d.last_at,
                 LAG(d.last_at) OVER (PARTITION BY d.student ORDER BY d.day) AS before
          FROM class_days d
          WHERE d.student IN (SELECT id FROM class_students WHERE class_id = :class_id)
            AND d.day >= :first AND d.day < :end) AS daily
    GROUP BY student
""")


def _per_student(class_id: int, period: Period) -> list[tuple]:
    days = period_days(period)
    if days is not None:
        return db.session.execute(_PER_STUDENT_FROM_DAYS, {
            "cutoff": DEFAULT_IDLE_CUTOFF_MINUTES * 60 * 1_000_000, "class_id": class_id,
            "first": days[0], "end": days[1]}).all()
    offset = period.start.utcoffset()
    students = listed_students(class_id)
    found = db.session.get(SchoolClass, class_id)  # the days it has events in: its first to its last
    return db.session.execute(_PER_STUDENT[students is not None], {
        "cutoff": DEFAULT_IDLE_CUTOFF_MINUTES * 60 * 1_000_000,
        "offset": int(offset.total_seconds() * 1_000_000) if offset else 0,
        "class_id": class_id, "students": students, "start": period.start_us, "end": period.end_us,
        "days": days_in(period.start_us, period.end_us - 1, (found.first_event, found.last_event))}).all()


def per_student_totals(class_id: int, period: Period) -> dict[int, tuple[int, int, int]]:
    """Per stored student's number: (events, time on task in seconds, active days) in the period."""
    return {row.student: (row.events, int(row.on_task or 0) // 1_000_000, row.days)
            for row in _per_student(class_id, period)}


def _spread(values: list[int]) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"p15": float(percentile(ordered, LOW_PERCENTILE)), "median": float(percentile(ordered, 50)),
            "p85": float(percentile(ordered, HIGH_PERCENTILE))}


def _totals(rows: list[tuple]) -> dict:
    return {"active_students": len(rows), "events": sum(row.events for row in rows),
            "time_on_task_seconds": sum(int(row.on_task or 0) // 1_000_000 for row in rows),
            "active_days": sum(row.days for row in rows)}


def class_summary_for(school_class: SchoolClass, period: Period) -> dict:
    rows = _per_student(school_class.id, period)
    before = _per_student(school_class.id, period.previous())
    seconds = [int(row.on_task or 0) // 1_000_000 for row in rows]
    spread = _spread(seconds)
    flags = {"went_quiet": sum(went_quiet(from_microseconds(row.last_at), period.start, period.end) for row in rows),
             "low_time": 0, "late_start": 0}
    if len(rows) >= MIN_COHORT:
        ordered = sorted(seconds)
        low, middle = percentile(ordered, LOW_PERCENTILE), percentile(ordered, 50)
        flags["low_time"] = sum(value <= low and value < middle for value in seconds)
        firsts = sorted(row.first_at for row in rows)
        late = percentile(firsts, HIGH_PERCENTILE)
        flags["late_start"] = sum(Fraction(row.first_at) > late for row in rows)
    now, then = _totals(rows), _totals(before)
    reports = db.session.execute(
        select(Report, ClassReport.student_id).join(ClassReport, ClassReport.report_id == Report.id)
        .where(ClassReport.class_id == school_class.id, ClassReport.period_start == period.start_us,
               ClassReport.period_end == period.end_us).order_by(Report.created_at)).all()
    return {
        "namespace": school_class.namespace,
        "period": period.to_dict(),
        "students": school_class.student_count,
        **now,
        "time_on_task": spread,
        "flags": flags,
        "previous": {"period": period.previous().to_dict(), **then},
        "change_percent": {key: change_percent(now[key], then[key])
                           for key in ("active_students", "events", "time_on_task_seconds", "active_days")},
        "reports": [{"task_id": report.id, "format": report.format, "status": report.status,
                     "student_id": student_id, "status_url": status_url(report),
                     "created_at": iso(report.created_at)} for report, student_id in reports],
    }
