"""The UTC day that PostgreSQL's key of ``class_events`` starts with (migration 0024), and the
condition that lets a query use that key.

Why the day comes first: with the key ``(student, at, unit, type)``, each append added rows in
the middle of the index once per student. PostgreSQL splits a full leaf page there in halves, so
the index was 61 MiB for 1,000,000 events where 34 MiB would hold it packed. With
``((at / 86400000000)::integer, student, at, unit, type)``, new days are added at the right end
of the index, where PostgreSQL fills each page to the index's fillfactor (100). The ``int4`` day
fits in the padding after ``student``, so an entry is still 36 bytes. The measured sizes are in
migration 0024 and BENCHMARKS.md.

The cost: the index starts with the day, so it can find a student's events only when the query
says which days to look in. On PostgreSQL, every query that reads or deletes events by student
or by time adds :func:`on_days`, with ``day = ANY(…)`` for the days, and an equality or a list
for the students (:func:`of_students`; for a class with most of the students, a subquery).
PostgreSQL 16 then descends the index once per (day, student) pair. A range on the day,
followed by the student, would scan every student's entries of those days instead. The expression must be written exactly as the index writes it (integer division
of the ``bigint`` by the constant, cast to ``integer``), or the planner will not match it.
SQLite's table is still its own key ``(student, at, unit, type)`` (migration 0013), so there the
condition is left out.
"""
from __future__ import annotations

from itertools import chain

from sqlalchemy import Integer, cast, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from ..models import ClassEvent, ClassStudent

DAY_US = 86_400_000_000

#: The index's first column, as a query must spell it (in SQL text, of a table whose ``at`` is unambiguous).
DAY_SQL = f"CAST(at / {DAY_US} AS INTEGER)"
EVENT_DAY = cast(ClassEvent.at.op("/")(literal_column(str(DAY_US))), Integer)


def utc_day(at: int) -> int:
    """The day of ``at`` (microseconds since 1970 UTC), as PostgreSQL's integer division computes
    it: it truncates toward zero, so a time before 1970 falls on the day nearer to 0."""
    return at // DAY_US if at >= 0 else -(-at // DAY_US)


def days_between(first: int, last: int) -> list[int]:
    """Every day of the key from ``first``'s to ``last``'s (both included)."""
    return list(range(utc_day(first), utc_day(last) + 1))


def keyed_by_day() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def on_days(first: int | None, last: int | None, stored: tuple[int | None, int | None] | None = None
            ) -> list[ColumnElement]:
    """The conditions that let PostgreSQL's key find events from ``first`` to ``last``
    (microseconds, both included; for a student or a class, its first and last stored event).
    Without a time there are no events, and the condition matches none. ``stored``, a class's
    first and last stored event, narrows a period to the days the class has events in, so that a
    window of years over a class of months costs the months' days only. On SQLite the list is
    empty."""
    if not keyed_by_day():
        return []
    return [EVENT_DAY.in_(days_in(first, last, stored))]


def days_in(first: int | None, last: int | None, stored: tuple[int | None, int | None] | None = None) -> list[int]:
    """The key's days from ``first`` to ``last``, narrowed to ``stored`` as :func:`on_days` says;
    none without a time. For SQL text that names the days itself (:mod:`.summary`)."""
    if stored is not None and first is not None and last is not None:
        first = None if stored[0] is None else max(first, stored[0])
        last = None if stored[1] is None else min(last, stored[1])
    return [] if first is None or last is None else days_between(first, last)


def listed_students(class_id: int, numbers: list[int] | None = None) -> list[int] | None:
    """The class's student numbers, to name beside the days, or None where a subquery of the class's
    students does better (on SQLite, and for a class holding most of the students).

    With the days and a list, PostgreSQL descends the key once per (day, student). With a
    subquery, it joins the class's students to every event of those days. On a database of two
    classes (2,000 and 40,000 students, 3.9 million events in one month), a month's count of the
    small class took 64–102 ms with the list and 535–645 ms with the subquery. For the large class
    it was the other way round: 2.6 s against 1.3 s, and in the bench's single class, the 12 month
    counts took 6.5 s against 0.36 s (BENCHMARKS.md). So the list is used while the class holds
    at most half of all students. ``numbers``: the class's students, when the caller has read
    them already."""
    if not keyed_by_day():
        return None
    if numbers is None:
        numbers = list(db.session.scalars(select(ClassStudent.id).where(ClassStudent.class_id == class_id)))
    return numbers if 2 * len(numbers) <= db.session.scalar(select(func.count()).select_from(ClassStudent)) else None


def of_students(class_id: int, numbers: list[int] | None = None) -> ColumnElement:
    """The condition "an event of this class's students", as :func:`listed_students` finds best."""
    listed = listed_students(class_id, numbers)
    if listed is None:
        return ClassEvent.student.in_(select(ClassStudent.id).where(ClassStudent.class_id == class_id)
                                      .scalar_subquery())
    return ClassEvent.student.in_(listed)


def in_key_order(students: list[list[tuple]]) -> list[tuple]:
    """Event rows ``(student, at, …)`` of several students, each student's rows sorted, in the
    key's order: by day, then by student. Rows appended in this order go to the right end of
    each day's part of the index. In student order, each student's rows would land in the middle
    of every day that a student before it had already filled, and the pages there would be split
    in halves again. Bucketing by day takes about 50 ms for 200,000 rows here, where bisecting
    each student's rows at its day boundaries took 90 ms and a sort by day and student 280 ms.
    (The days are floored here, and the key truncates. For times since 1970 the two give the same
    order.)"""
    by_day: dict[int, list[tuple]] = {}
    for rows in sorted(students, key=lambda rows: rows[0][0]):
        for row in rows:
            day = row[1] // DAY_US
            bucket = by_day.get(day)
            if bucket is None:
                by_day[day] = [row]
            else:
                bucket.append(row)
    return list(chain.from_iterable(by_day[day] for day in sorted(by_day)))
