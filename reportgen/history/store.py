"""A class's stored events: appending (idempotent, all or nothing), erasing, expiring, reading.

An event is stored as four integers (see migration 0013): the student's and the unit's numbers
in the class, the time in microseconds since 1970 UTC, and the type's number (0 for none). The
key of the four is the rule for duplicates (SQLite's primary key; on PostgreSQL a unique index
led by the day, below), so the database decides them: ``INSERT OR IGNORE`` on
SQLite, ``ON CONFLICT DO NOTHING`` on PostgreSQL, and what was really inserted is counted per
student from the database's own answer (rowcount, ``RETURNING``), never guessed.

On PostgreSQL the rows go by ``COPY`` (:mod:`.bulk`), each student's distinct, and all of them in
the order of the key (by UTC day, then student: :func:`.event_days.in_key_order`). A student
whose rows all come after its latest stored event (the common append: this week's export after
last week's) cannot meet a stored event, so its rows are copied straight into the table and
counted as sent; the unique key would refuse the whole append were that ever wrong. The others
go through a staging table and ``INSERT … ON CONFLICT DO NOTHING``, counted per student from
``RETURNING``. ``class_events`` and ``class_event_ids`` have no foreign key there (migration 0021:
its check, one query an inserted row, was most of a COPY's time). The unique key of
``class_events`` there starts with the event's UTC day (migration 0024), so that new days fill
the index's last pages instead of splitting pages in the middle; every read or delete of events
by student or by time therefore names the days it looks in (:func:`.event_days.on_days`: a
student's or a class's ``first_event`` to ``last_event``, a period's days). Measured with
``bench/history_bench.py --database pgserver`` (embedded PostgreSQL 16.2, 2 shared cores;
BENCHMARKS.md): 1,000,000 events appended in 7.7 s at load 2 (it took 25.4 s with ``INSERT …
SELECT unnest(ARRAY[…])`` of 50,000 rows a statement, in the same conditions) and again in 7.0 s
(14.0 s), the intake alone being 2.5 s; with an id each, 17.2 s (51.3 s) and 9.4 s (20.4 s);
the day-first key did not change these (alternate runs in BENCHMARKS.md). Stored, 1.29× the
compact JSON of the events without ids (1.62× with the student-first key, 1.73× before 0021): a
heap row of 52 bytes (24 of them its header), a key entry of 36 bytes, the key packed because
it is appended to by day (35.4 MiB for 1,000,000 events, 34.3 MiB of entries; 61 MiB with the
student first), and the roll-up 14.8 MiB. A class whose days come in several appends, each with
part of its students (``--ids`` sends a month as two halves of 1,000), fills the later parts of
each day in the middle of the key, and those split in halves again: 52.8 MiB, 1.71× with the ids
(1.78× before). SQLite: 0.37×.

Where the data carries an event id (JSON ``id``, an xAPI statement's, a Caliper event's), that
id decides too: an event whose id the student's history holds already (stored before, or earlier
in the same request) is a duplicate even if its time or unit differs, as when an LRS re-export
re-times its statements. The four-field rule still holds for every event, with an id or without:
two events of one student at the same moment on the same unit with the same type are one event
whatever their ids (the history stores four numbers an event, and no report could tell the two
apart), and both ids are remembered. Ids are per student, not per class (two students' ids never
meet: a statement is one actor's), stored as 8 bytes of BLAKE2b (:func:`id_hash`) with the day,
keyed ``(student, hash)`` in ``class_event_ids``: about 20 bytes an id on SQLite, 91 on
PostgreSQL, where a heap and its index hold it (``bench/history_bench.py --ids``). Two ids of one
student would have to collide in 64 bits (for a student of a million ids, a chance of about 3 in
10⁸) for an event to be taken for a duplicate wrongly. The append looks up the hashes of the ids
it was sent (by key, so what it reads grows with the request, not with the history) and decides
in memory; appends to one class are serialised (below), so nothing slips in between.

Appends to one class are serialised: the class's row is written first (PostgreSQL locks it;
SQLite's one writer is :mod:`reportgen.sqlite_writes`' lock), so the running counts on the
class and student rows stay exact under concurrent appends. Erasing a student or a class and the
sweeper's purge take the same lock before they delete, so no append adds events to a student
being deleted (on PostgreSQL no foreign key would catch it). Everything of one append is one
transaction: a refused upload stores nothing.

Which class a request means: a token sees its own classes only (another token's namespace is
answered 404, like a report); the operator, and everyone on a server without tokens, sees every
class, and appending to a namespace that exists already goes to that class (its oldest, should
two owners have one of that name), so the form and the API share a class there.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from hashlib import blake2b
from itertools import islice
from operator import eq

from sqlalchemy import delete, func, insert, select, text, update

from ..auth.clients import current_client, sees_every_report, visible_to_client
from ..domain.dates import iso
from ..domain.periods import Period, epoch_day, from_microseconds, months_between, to_microseconds
from ..domain.submission import Event, Problems, Student, raise_if, shown, text_problem
from ..extensions import db
from ..models import ClassEvent, ClassEventId, ClassName, ClassStudent, SchoolClass, utcnow
from . import bulk, event_days, rollup

MAX_NAMESPACE_CHARS = 200
UNIT, TYPE = 0, 1
EVENT_COLUMNS = ("student", "at", "unit", "type", "added_day")
EVENT_TYPES = ("integer", "bigint", "integer", "integer", "integer")
#: Students whose expired events one sweep deletes at most; the next sweep goes on.
PURGE_BATCH = 200
#: Event ids of one student that one SQLite query looks up.
ID_READ_BATCH = 500


def id_hash(event_id: str) -> int:
    """What ``class_event_ids`` keeps of an event id: 8 bytes of its BLAKE2b, as a signed 64-bit
    integer (a ``BIGINT`` on both databases)."""
    return int.from_bytes(blake2b(event_id.encode(), digest_size=8).digest(), "big", signed=True)


def check_namespace(namespace: str, path: str = "namespace") -> None:
    """400 for a namespace no class can be named: empty, too long, a NUL or a lone surrogate."""
    problem = ("must not be empty" if not namespace.strip()
               else f"must be at most {MAX_NAMESPACE_CHARS} characters (it has {len(namespace):,})"
               if len(namespace) > MAX_NAMESPACE_CHARS else text_problem(namespace))
    if problem:
        errors = Problems()
        errors[path] = problem
        raise_if(errors, "namespace")


def check_storable(students: list[Student], namespace: str | None, prefix: str = "") -> None:
    """Every event must have a time to have a place in a period, and (with ``namespace``) every
    student must be in that namespace or in none; 400 naming each problem by path."""
    errors = Problems()
    dot = f"{prefix}" if prefix else ""
    for number, student in enumerate(students):
        if namespace is not None and student.namespace not in ("", namespace):
            errors[f"{dot}[{number}].namespace"] = (
                f"is {shown(student.namespace)[:80]!r}, but these events are for the class "
                f"{shown(namespace)[:80]!r} (the path's): leave it out or make it the same")
        for event in student.events:
            if event.created_at is None:
                errors[f"{dot}[{number}].events[{event.index}].created_time"] = (
                    "is required to keep an event in a class's history: an event without a time "
                    "belongs to no month or week")
    raise_if(errors, "events")


@dataclass(frozen=True)
class Appended:
    namespace: str
    received: int
    added: int
    students: int
    first_event: datetime | None
    last_event: datetime | None

    def to_dict(self) -> dict:
        return {"namespace": self.namespace, "received": self.received, "added": self.added,
                "duplicates": self.received - self.added, "students": self.students,
                "first_event": iso_or_none(self.first_event), "last_event": iso_or_none(self.last_event)}


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def find_class(namespace: str) -> SchoolClass | None:
    """The class of this namespace the request's client may see (the oldest, for the operator)."""
    if len(namespace) > MAX_NAMESPACE_CHARS or text_problem(namespace):
        return None
    return db.session.scalar(select(SchoolClass).where(SchoolClass.namespace == namespace,
                                                       visible_to_client(SchoolClass))
                             .order_by(SchoolClass.id).limit(1))


def list_classes() -> list[SchoolClass]:
    return list(db.session.scalars(select(SchoolClass).where(visible_to_client(SchoolClass))
                                   .order_by(SchoolClass.namespace, SchoolClass.id)))


def _class_for_append(namespace: str) -> SchoolClass:
    """The class to append to, created if need be, its row written (and so locked) first."""
    owner = current_client()
    found = find_class(namespace) if sees_every_report() else None
    if found is None:
        found = db.session.scalar(select(SchoolClass).where(SchoolClass.owner == owner,
                                                            SchoolClass.namespace == namespace))
    if found is None:
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            statement = pg_insert(SchoolClass).on_conflict_do_nothing()
        else:
            statement = insert(SchoolClass).prefix_with("OR IGNORE")
        db.session.execute(statement.values(owner=owner, namespace=namespace, timezone="UTC",
                                            student_count=0, event_count=0, created_at=utcnow()))
        found = db.session.scalar(select(SchoolClass).where(SchoolClass.owner == owner,
                                                            SchoolClass.namespace == namespace))
    _lock_class(found.id)
    db.session.refresh(found)
    return found


def _lock_class(class_id: int) -> None:
    """Write the class's row (PostgreSQL locks it; SQLite's one writer is taken): an append, an
    erasure and a purge of one class wait for each other, so none deletes a student another is
    adding events to (on PostgreSQL no foreign key would catch that: migration 0021)."""
    db.session.execute(update(SchoolClass).where(SchoolClass.id == class_id).values(id=SchoolClass.id))
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(SchoolClass.id).where(SchoolClass.id == class_id).with_for_update())


def _numbers(class_id: int, kind: int, names: Iterable[str]) -> dict[str, int]:
    """The class's number of each name (unit or type), new ones numbered here."""
    wanted = set(names)
    known = dict(db.session.execute(select(ClassName.name, ClassName.id)
                                    .where(ClassName.class_id == class_id, ClassName.kind == kind)).all())
    missing = wanted - known.keys()
    if missing:
        db.session.execute(insert(ClassName), [{"class_id": class_id, "kind": kind, "name": name}
                                               for name in sorted(missing)])
        known = dict(db.session.execute(select(ClassName.name, ClassName.id)
                                        .where(ClassName.class_id == class_id, ClassName.kind == kind)).all())
    return known


def _stored_ids(wanted: dict[int, list[int]]) -> dict[int, set[int]]:
    """Which of these id hashes (student number → hashes) the students' histories hold already,
    each looked up by its key: what an append reads grows with its events, not with the history."""
    known: dict[int, set[int]] = {number: set() for number in wanted}
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        bulk.staged(connection, "class_event_ids_wanted", (("student", "integer"), ("hash", "bigint")),
                    [(number, key) for number, keys in wanted.items() for key in keys])
        # one probe of the key per id sent (a plain join of the staging table was planned as a hash
        # join over every stored id: 0.54 s against 0.28 s for 150,000 ids sent, 800,000 stored)
        for number, key in connection.exec_driver_sql(
                "SELECT w.student, w.hash FROM class_event_ids_wanted w CROSS JOIN LATERAL (SELECT 1 FROM "
                "class_event_ids i WHERE i.student = w.student AND i.hash = w.hash LIMIT 1) AS stored"):
            known[number].add(key)
        return known
    for number, keys in wanted.items():
        for start in range(0, len(keys), ID_READ_BATCH):
            chunk = keys[start:start + ID_READ_BATCH]
            known[number].update(key for (key,) in connection.exec_driver_sql(
                f"SELECT hash FROM class_event_ids WHERE student = ? AND hash IN ({', '.join('?' * len(chunk))})",
                (number, *chunk)))
    return known


def _insert_ids(rows: list[tuple[int, int, int]]) -> None:
    """Store new ids ``(student, hash, day)``, none of them stored yet (decided by the caller)."""
    if not rows:
        return
    rows.sort()
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        bulk.copy_rows(connection, "class_event_ids", ("student", "hash", "added_day"), rows)
        return
    connection.exec_driver_sql("INSERT INTO class_event_ids (student, hash, added_day) VALUES (?, ?, ?)", rows)


def _insert_events(rows_by_student: dict[int, list[tuple]], stored_last: dict[int, int | None]) -> Counter:
    """Insert, ignoring duplicates; how many each student really gained. Each student's rows are
    distinct and in key order (:func:`_distinct`); ``stored_last`` is its latest stored event."""
    added: Counter = Counter()
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # A student whose rows all come after its latest stored event cannot meet a stored one
        # (appends to a class are serialised, and its rows are distinct): they are copied into
        # the table as they are, and the unique key would refuse the whole append were that
        # ever wrong. The others go through a staging table and ON CONFLICT DO NOTHING, counted
        # per student from what the database says it inserted. Both go in the key's order (by
        # day, then student: migration 0024), so that new days fill the index's last pages.
        later, others = [], []
        for student, rows in rows_by_student.items():
            last = stored_last.get(student)
            if rows and (last is None or rows[0][1] > last):
                later.append(rows)
                added[student] = len(rows)
            elif rows:
                others.append(rows)
        later, others = event_days.in_key_order(later), event_days.in_key_order(others)
        if bulk.copy_rows(connection, "class_events", EVENT_COLUMNS, later) != len(later):
            raise RuntimeError("the database took another number of events than it was sent")
        if others:
            bulk.staged(connection, "class_events_new", tuple(zip(EVENT_COLUMNS, EVENT_TYPES)), others)
            columns = ", ".join(EVENT_COLUMNS)
            added.update(dict(connection.exec_driver_sql(
                f"WITH inserted AS (INSERT INTO class_events ({columns}) SELECT {columns} FROM class_events_new "
                f"ORDER BY {event_days.DAY_SQL}, student, at, unit, type ON CONFLICT DO NOTHING RETURNING student) "
                "SELECT student, count(*) FROM inserted GROUP BY student").all()))
        return added
    for student, rows in rows_by_student.items():
        if not rows:
            continue
        result = connection.exec_driver_sql("INSERT OR IGNORE INTO class_events (student, at, unit, type, added_day) "
                                            "VALUES (?, ?, ?, ?, ?)", rows)
        added[student] = result.rowcount
    return added


def _distinct(rows: list[tuple]) -> list[tuple]:
    """A student's event rows in key order, each once (an upload may repeat an event)."""
    rows.sort()
    if any(map(eq, rows, islice(rows, 1, None))):
        return sorted(set(rows))
    return rows


def append(namespace: str, students: list[Student]) -> Appended:
    """Store the students' events in the class of ``namespace`` (checked by :func:`check_storable`
    first); duplicates (by the four fields, or by an event id stored before) are left out and
    counted. Not committed: the caller commits."""
    received = sum(len(student.events) for student in students)
    school_class = _class_for_append(namespace)
    class_id = school_class.id
    events = [event for student in students for event in student.events]
    units = _numbers(class_id, UNIT, {event.unit for event in events})
    types = _numbers(class_id, TYPE, {event.type for event in events if event.type is not None})
    existing = {row.student_id: row for row in db.session.scalars(
        select(ClassStudent).where(ClassStudent.class_id == class_id,
                                   ClassStudent.student_id.in_({s.student_id for s in students})))}
    new_ids = sorted({s.student_id for s in students} - existing.keys())
    if new_ids:
        db.session.execute(insert(ClassStudent), [{"class_id": class_id, "student_id": student_id, "event_count": 0}
                                                  for student_id in new_ids])
        existing = {row.student_id: row for row in db.session.scalars(
            select(ClassStudent).where(ClassStudent.class_id == class_id,
                                       ClassStudent.student_id.in_({s.student_id for s in students})))}
    today = epoch_day(utcnow())
    wanted = {existing[student.student_id].id: [id_hash(event.id) for event in student.events if event.id is not None]
              for student in students}
    wanted = {number: keys for number, keys in wanted.items() if keys}
    known = _stored_ids(wanted)
    rows_by_student: dict[int, list[tuple]] = {}
    id_rows: list[tuple[int, int, int]] = []
    span: dict[int, tuple[int, int]] = {}
    received_span: list[int] = []
    for student in students:
        number = existing[student.student_id].id
        ids = known.get(number)
        if ids is None:  # no event of this student has an id: the four fields decide alone
            rows = [(number, to_microseconds(event.created_at), units[event.unit],
                     0 if event.type is None else types[event.type], today) for event in student.events]
        else:
            rows = []
            keys = iter(wanted[number])
            for event in student.events:
                at = to_microseconds(event.created_at)
                if event.id is not None:
                    key = next(keys)
                    if key in ids:  # its id was stored before: a duplicate, whatever its time and unit
                        received_span.append(at)
                        continue
                    ids.add(key)
                    id_rows.append((number, key, today))
                rows.append((number, at, units[event.unit], 0 if event.type is None else types[event.type], today))
        rows = rows_by_student[number] = _distinct(rows)
        if rows:
            kept = [row[1] for row in rows]
            span[number] = (min(kept), max(kept))
            received_span += span[number]
    added = _insert_events(rows_by_student, {row.id: row.last_event for row in existing.values()})
    _insert_ids(id_rows)
    rollup.after_append(school_class, {number: rows for number, rows in rows_by_student.items() if added[number]},
                        added)
    updates = []
    for row in existing.values():
        first, last = span.get(row.id, (None, None))
        if first is None:
            continue
        updates.append({"b_id": row.id, "b_count": row.event_count + added[row.id],
                        "b_first": first if row.first_event is None else min(first, row.first_event),
                        "b_last": last if row.last_event is None else max(last, row.last_event),
                        "b_added": row.first_added if row.first_added is not None or not added[row.id] else today})
    if updates and db.session.get_bind().dialect.name == "postgresql":
        bulk.update_from_values(
            db.session.connection(),
            "UPDATE class_students AS s SET event_count = v.count, first_event = v.first, last_event = v.last, "
            "first_added = v.added FROM (VALUES %s) AS v(id, count, first, last, added) WHERE s.id = v.id",
            [(u["b_id"], u["b_count"], u["b_first"], u["b_last"], u["b_added"]) for u in updates],
            "(%s, %s, %s::bigint, %s::bigint, %s::integer)")
    elif updates:
        db.session.execute(text("UPDATE class_students SET event_count = :b_count, first_event = :b_first, "
                                "last_event = :b_last, first_added = :b_added WHERE id = :b_id"), updates)
    total_added = sum(added.values())
    _refresh_class(class_id, added_now=total_added > 0)
    return Appended(namespace=namespace, received=received, added=total_added, students=len(students),
                    first_event=from_microseconds(min(received_span)) if received_span else None,
                    last_event=from_microseconds(max(received_span)) if received_span else None)


def _refresh_class(class_id: int, added_now: bool = False) -> None:
    """The class's counts and first and last event, from its students' rows."""
    count, events, first, last = db.session.execute(
        select(func.count(), func.coalesce(func.sum(ClassStudent.event_count), 0),
               func.min(ClassStudent.first_event), func.max(ClassStudent.last_event))
        .where(ClassStudent.class_id == class_id)).one()
    values = {"student_count": count, "event_count": events, "first_event": first, "last_event": last}
    if added_now:
        values["last_added_at"] = utcnow()
    db.session.execute(update(SchoolClass).where(SchoolClass.id == class_id).values(**values))


def erase_student(school_class: SchoolClass, student_id: str) -> int | None:
    """Delete one student's stored events (right to erasure); how many, or None if unknown."""
    _lock_class(school_class.id)
    row = db.session.scalar(select(ClassStudent).where(ClassStudent.class_id == school_class.id,
                                                       ClassStudent.student_id == student_id))
    if row is None:
        return None
    erased = db.session.execute(delete(ClassEvent).where(*event_days.on_days(row.first_event, row.last_event),
                                                         ClassEvent.student == row.id)
                                .execution_options(synchronize_session=False)).rowcount
    db.session.execute(delete(ClassEventId).where(ClassEventId.student == row.id))
    db.session.execute(delete(ClassStudent).where(ClassStudent.id == row.id))
    _refresh_class(school_class.id)
    db.session.commit()
    return erased


def erase_class(school_class: SchoolClass) -> tuple[int, int]:
    """Delete a class with its events; (students, events) erased."""
    _lock_class(school_class.id)
    db.session.refresh(school_class)
    counts = (school_class.student_count, school_class.event_count)
    student_rows = select(ClassStudent.id).where(ClassStudent.class_id == school_class.id).scalar_subquery()
    db.session.execute(delete(ClassEvent).where(*event_days.on_days(school_class.first_event, school_class.last_event),
                                                event_days.of_students(school_class.id))
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(ClassEventId).where(ClassEventId.student.in_(student_rows)))
    db.session.execute(delete(SchoolClass).where(SchoolClass.id == school_class.id))
    db.session.commit()
    return counts


def purge_expired(cutoff: datetime) -> int:
    """Delete the events stored before ``cutoff``'s day (retention counts from when an event was
    stored, not from its time), and the event ids stored before it, of at most
    :data:`PURGE_BATCH` students; how many events."""
    limit = epoch_day(cutoff)
    rows = db.session.execute(select(ClassStudent.id, ClassStudent.class_id)
                              .where(ClassStudent.first_added < limit).limit(PURGE_BATCH)).all()
    if not rows:
        return 0
    for class_id in sorted({class_id for _, class_id in rows}):
        _lock_class(class_id)
    # read again under the locks: not erased meanwhile, and the span its events are in now
    still = {student: (first, last) for student, first, last in db.session.execute(
        select(ClassStudent.id, ClassStudent.first_event, ClassStudent.last_event)
        .where(ClassStudent.id.in_([s for s, _ in rows])))}
    rows = [(student, class_id) for student, class_id in rows if student in still]
    purged = 0
    # a class's students at once: on PostgreSQL one descent of the day-first key per (day,
    # student) of their span. Two statements per student, each naming that student's days, took
    # 2.6 s for 200 students of 1,200 events, against 0.41 s this way and 0.60 s before 0024
    # (BENCHMARKS.md)
    for class_id in sorted({class_id for _, class_id in rows}):
        students = [student for student, owner in rows if owner == class_id]
        spans = [still[student] for student in students if still[student][0] is not None]
        of_students = [*event_days.on_days(min((first for first, _ in spans), default=None),
                                           max((last for _, last in spans), default=None)),
                       ClassEvent.student.in_(students)]
        purged += db.session.execute(delete(ClassEvent).where(*of_students, ClassEvent.added_day < limit)
                                     .execution_options(synchronize_session=False)).rowcount
        db.session.execute(delete(ClassEventId).where(ClassEventId.student.in_(students), ClassEventId.added_day < limit)
                           .execution_options(synchronize_session=False))
        left = {student: rest for student, *rest in db.session.execute(
            select(ClassEvent.student, func.count(), func.min(ClassEvent.at), func.max(ClassEvent.at),
                   func.min(ClassEvent.added_day)).where(*of_students).group_by(ClassEvent.student))}
        id_added = dict(db.session.execute(select(ClassEventId.student, func.min(ClassEventId.added_day))
                                           .where(ClassEventId.student.in_(students)).group_by(ClassEventId.student)).all())
        for student in students:
            if student in left:
                count, first, last, added = left[student]
                if student in id_added:
                    added = min(added, id_added[student])  # the sweeper comes back for an id older than its events
                db.session.execute(update(ClassStudent).where(ClassStudent.id == student)
                                   .values(event_count=count, first_event=first, last_event=last, first_added=added))
            else:  # with any id stored after its last event (that event's four-field duplicate's)
                db.session.execute(delete(ClassEventId).where(ClassEventId.student == student))
                db.session.execute(delete(ClassStudent).where(ClassStudent.id == student))
    for class_id in {class_id for _, class_id in rows}:
        rollup.rebuild_students(db.session.get(SchoolClass, class_id).timezone,
                                [student for student, owner in rows if owner == class_id])
        _refresh_class(class_id)
    db.session.commit()
    return purged


def class_summary(school_class: SchoolClass) -> dict:
    """What ``GET /namespaces`` says of a class."""
    return {
        "namespace": school_class.namespace,
        "timezone": school_class.timezone,
        "students": school_class.student_count,
        "events": school_class.event_count,
        "first_event": iso_or_none(None if school_class.first_event is None
                                   else from_microseconds(school_class.first_event)),
        "last_event": iso_or_none(None if school_class.last_event is None
                                  else from_microseconds(school_class.last_event)),
        "last_added": iso(school_class.last_added_at),
    }


def count_events(class_id: int, start_us: int, end_us: int) -> int:
    school_class = db.session.get(SchoolClass, class_id)
    stored = (school_class.first_event, school_class.last_event)
    return db.session.scalar(select(func.count()).select_from(ClassEvent).where(
        *event_days.on_days(start_us, end_us - 1, stored), event_days.of_students(class_id),
        ClassEvent.at >= start_us, ClassEvent.at < end_us))


def events_per_month(school_class: SchoolClass) -> list[dict]:
    """``[{"month": "2024-11", "events": 1234}, …]`` from the first event's month to the last's, in the class's zone."""
    if school_class.first_event is None:
        return []
    from ..domain.periods import parse_period

    months = []
    for month in months_between(school_class.first_event, school_class.last_event, school_class.timezone):
        period = parse_period(month, school_class.timezone)
        months.append({"month": month, "events": count_events(school_class.id, period.start_us, period.end_us)})
    return months


def students_of(school_class: SchoolClass) -> list[ClassStudent]:
    return list(db.session.scalars(select(ClassStudent).where(ClassStudent.class_id == school_class.id)
                                   .order_by(ClassStudent.student_id)))


def period_students(school_class: SchoolClass, period: Period, student_id: str | None = None) -> list[Student]:
    """The students with events in the period (one, with ``student_id``), their events in time
    order, as an upload of them would be read: what a period report is made of.

    The events are put in order here, not by the query. On PostgreSQL the rows come in the key's
    order (by day), and sorting a month of 2,000 students by student id in the database spilled
    to disk (0.19 s of the query's 0.2 s). The students are ordered by the database, as before
    (its collation of their ids)."""
    names = {(kind, number): name for kind, number, name in db.session.execute(
        select(ClassName.kind, ClassName.id, ClassName.name).where(ClassName.class_id == school_class.id))}
    who = select(ClassStudent.id, ClassStudent.student_id).where(ClassStudent.class_id == school_class.id)
    if student_id is not None:
        who = who.where(ClassStudent.student_id == student_id)
    ordered = db.session.execute(who.order_by(ClassStudent.student_id)).all()
    if not ordered:
        return []
    of_students = (ClassEvent.student == ordered[0].id if student_id is not None
                   else event_days.of_students(school_class.id, [row.id for row in ordered]))
    query = select(ClassEvent.student, ClassEvent.at, ClassEvent.unit, ClassEvent.type).where(
        *event_days.on_days(period.start_us, period.end_us - 1, (school_class.first_event, school_class.last_event)),
        of_students, ClassEvent.at >= period.start_us, ClassEvent.at < period.end_us)
    by_student: dict[int, list[tuple[int, int, int]]] = {}
    for number, at, unit, kind in db.session.execute(query):
        by_student.setdefault(number, []).append((at, unit, kind))
    students: list[Student] = []
    for number, sid in ordered:
        rows = by_student.get(number)
        if rows:
            rows.sort()
            students.append(Student(student_id=sid, namespace=school_class.namespace, events=tuple(
                Event(unit=names[(UNIT, unit)], type=names.get((TYPE, kind)), created_at=from_microseconds(at), index=index)
                for index, (at, unit, kind) in enumerate(rows))))
    return students


def keep_upload(students: list[Student]) -> list[Appended]:
    """An upload's envelope said ``"keep": true``: store its events in the history of each of its
    namespaces too (every student needs one, and every event a time). Not committed."""
    errors = Problems()
    for number, student in enumerate(students):
        if not student.namespace:
            errors[f"students[{number}].namespace"] = "is required to keep the events: a class is named by its namespace"
        elif len(student.namespace) > MAX_NAMESPACE_CHARS:
            errors[f"students[{number}].namespace"] = f"must be at most {MAX_NAMESPACE_CHARS} characters to be kept"
    raise_if(errors, "upload")
    check_storable(students, None, "students")
    by_namespace: dict[str, list[Student]] = {}
    for student in students:
        by_namespace.setdefault(student.namespace, []).append(student)
    return [append(namespace, members) for namespace, members in sorted(by_namespace.items())]


def student_numbers(school_class: SchoolClass) -> dict[str, int]:
    """Student id → the number its stored events go by."""
    return dict(db.session.execute(select(ClassStudent.student_id, ClassStudent.id)
                                   .where(ClassStudent.class_id == school_class.id)).all())
