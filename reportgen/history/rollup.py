"""A class's per-student, per-local-day roll-up (``class_days``), kept equal to its events.

Why: the class summary compares two periods, and any query over the raw events of both was too
slow (on SQLite, merely reading the 400,000 ``(student, at)`` rows of two months of 2,000 × 100
took 196 ms a month, the ``LAG`` query 405 ms; target 300 ms for both). A student has about 30
active days a month, so the summary reads 2 × 60,000 day rows instead.

How it is kept equal to the events:

* an append recomputes the days its new events fall on: a day no row had yet from the new
  events in memory (none of that day's events can have been stored before), a day that had one
  from the stored events of that day;
* a purge rebuilds the days of each student it touched; erasing a student or a class deletes the
  rows with them (``ON DELETE CASCADE``);
* changing a class's zone rebuilds the class (its days are other days now).

Time on task counts the gaps of at most the default idle cutoff, as the summary always has.
"""
from __future__ import annotations

from sqlalchemy import bindparam, delete, func, select

from ..domain.activity import day_totals
from ..domain.analytics import DEFAULT_IDLE_CUTOFF_MINUTES
from ..domain.periods import LocalDays
from ..extensions import db
from ..models import ClassDay, ClassEvent, ClassStudent, SchoolClass
from . import bulk
from .event_days import on_days

CUTOFF_US = DEFAULT_IDLE_CUTOFF_MINUTES * 60 * 1_000_000
_DAY_US = 86_400_000_000
#: Day rows written in one statement.
WRITE_BATCH = 20_000


DAY_COLUMNS = ("student", "day", "events", "on_task_us", "first_at", "last_at")


def _write(rows: list[tuple]) -> None:
    """Insert day rows (tuples in :data:`DAY_COLUMNS` order): COPY on PostgreSQL (as an
    executemany, the 140,000 day rows of 1,000,000 appended events took 4.9 s there, at load 3),
    batches on SQLite."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        bulk.copy_rows(connection, "class_days", DAY_COLUMNS, rows)
        return
    for start in range(0, len(rows), WRITE_BATCH):
        connection.execute(ClassDay.__table__.insert(),
                           [dict(zip(DAY_COLUMNS, row)) for row in rows[start:start + WRITE_BATCH]])


def _rows(student: int, days: dict[int, list[int]], only: set[int] | None = None) -> list[tuple]:
    return [(student, day, events, on_task, first, last)
            for day, (events, on_task, first, last) in days.items() if only is None or day in only]


def after_append(school_class: SchoolClass, new_events: dict[int, list[tuple]], added: dict[int, int]) -> None:
    """Recompute the days of the events just appended (student number → its rows, ``at`` second,
    and how many of them the database took; only students that gained events). Not committed."""
    if not new_events:
        return
    local_day = LocalDays(school_class.timezone)
    per_student = {}
    for student, rows in new_events.items():
        # every row was new (and none repeated in the upload) when the database took them all
        unique = rows if added[student] == len(rows) else set(rows)
        per_student[student] = day_totals(sorted(row[1] for row in unique), local_day, CUTOFF_US)
    lowest = min(min(days) for days in per_student.values())
    highest = max(max(days) for days in per_student.values())
    present = set(db.session.execute(
        select(ClassDay.student, ClassDay.day).where(ClassDay.student.in_(list(per_student)),
                                                     ClassDay.day >= lowest, ClassDay.day <= highest)).all())
    stale = {key for key in present if key[1] in per_student.get(key[0], ())}
    rows = []
    for student, days in per_student.items():
        rows.extend(_rows(student, days, {day for day in days if (student, day) not in stale}))
    if stale:
        rows.extend(_recount(local_day, stale))
        db.session.connection().execute(delete(ClassDay.__table__).where(ClassDay.student == bindparam("b_student"),
                                                  ClassDay.day == bindparam("b_day")),
                           [{"b_student": student, "b_day": day} for student, day in sorted(stale)])
    _write(rows)


def _recount(local_day: LocalDays, wanted: set[tuple[int, int]]) -> list[dict]:
    """The day rows of ``(student, day)`` pairs from the stored events (a day is at most 26 hours
    of UTC either side of its number's UTC day, so that range is read and filtered)."""
    students = sorted({student for student, _ in wanted})
    low = min(day for _, day in wanted) * _DAY_US - _DAY_US
    high = (max(day for _, day in wanted) + 2) * _DAY_US
    times: dict[int, list[int]] = {}
    for student, at in db.session.execute(
            select(ClassEvent.student, ClassEvent.at).where(*on_days(low, high - 1), ClassEvent.student.in_(students),
                                                            ClassEvent.at >= low, ClassEvent.at < high)
            .order_by(ClassEvent.student, ClassEvent.at)):
        times.setdefault(student, []).append(at)
    rows = []
    for student, student_times in times.items():
        days = day_totals(student_times, local_day, CUTOFF_US)
        rows.extend(_rows(student, days, {day for s, day in wanted if s == student}))
    return rows


def rebuild_students(timezone_name: str, students: list[int]) -> None:
    """Rebuild every day row of these students from their stored events (between their rows'
    ``first_event`` and ``last_event``, which must be up to date). Not committed."""
    if not students:
        return
    db.session.execute(delete(ClassDay).where(ClassDay.student.in_(students)))
    local_day = LocalDays(timezone_name)
    rows: list[dict] = []
    current, times = None, []
    first, last = db.session.execute(select(func.min(ClassStudent.first_event), func.max(ClassStudent.last_event))
                                     .where(ClassStudent.id.in_(students))).one()
    query = (select(ClassEvent.student, ClassEvent.at).where(*on_days(first, last), ClassEvent.student.in_(students))
             .order_by(ClassEvent.student, ClassEvent.at))
    for student, at in db.session.execute(query):
        if student != current:
            if current is not None:
                rows.extend(_rows(current, day_totals(times, local_day, CUTOFF_US)))
            current, times = student, []
        times.append(at)
        if len(rows) >= WRITE_BATCH:
            _write(rows)
            rows = []
    if current is not None:
        rows.extend(_rows(current, day_totals(times, local_day, CUTOFF_US)))
    _write(rows)


def rebuild_class(school_class: SchoolClass) -> None:
    """The class's zone changed: every day row again, in the new zone's days. Not committed."""
    students = list(db.session.scalars(select(ClassStudent.id).where(ClassStudent.class_id == school_class.id)))
    for start in range(0, len(students), 500):
        rebuild_students(school_class.timezone, students[start:start + 500])
