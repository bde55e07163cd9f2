"""Class histories: append a million events, append them again, what they cost on disk, and the
class summary on a year of 2,000 students.

    .venv/bin/python bench/history_bench.py                       # SQLite in a temporary directory
    .venv/bin/python bench/history_bench.py --database postgresql+psycopg2://…   # an empty database
    .venv/bin/python bench/history_bench.py --database pgserver   # an embedded PostgreSQL (pgserver)
    .venv/bin/python bench/history_bench.py --ids                 # every event with an id (a UUID)
    .venv/bin/python bench/history_bench.py --database pgserver --plans   # and the plans of the reads and deletes

Builds seeded months of ``--students`` students × ``--events`` events each (times in the sample's
form ``2024-07-21 03:04:55.939000+00:00``, units 1–30 as text, four types; with ``--ids`` each
also an ``id``, a UUID, as an LRS's statements have), one request body per month (about 16 MiB,
19 MiB with ids: under the 20 MiB limit). Then, through the app's WSGI stack (the Flask test
client: routing, guards, intake, database; no socket):

* ``reference``: the intake alone (``loads`` + ``parse_upload``) of the first ``--append-months``
  bodies, the floor any append pays, measured in the same run;
* ``append``: POST those bodies to ``/namespaces/<ns>/events`` (1,000,000 events by default);
* ``again``: the same bodies once more, which must add 0 (with ``--ids``, the same events an hour
  later: duplicates by their ids alone, as an LRS's re-timed export is);
* ``storage``: the database's growth (SQLite: file and WAL after a checkpoint; PostgreSQL: the
  class tables' relation sizes, indexes, roll-up and ids included) against the compact JSON of
  the events;
* ``summary``: after the other months are appended too (2.4 M events), ``GET …/summary`` of one
  month (read from the per-day roll-up), best and median of ``--repeat``, against the same month
  as a window starting a second after midnight, which is read from the events (the reference).
* with ``--plans``, after a ``VACUUM ANALYZE`` of the class tables (as autovacuum would have
  done), the reads and deletes of stored events by student or by time, each timed
  (best of ``--repeat`` where nothing is deleted) and, on PostgreSQL, every statement on
  ``class_events`` explained (``EXPLAIN (ANALYZE, BUFFERS)``, a delete's in a savepoint rolled back
  before it runs): ``GET /namespaces/<ns>`` (the events per month), the period read of one month
  for every student, and of one student, erasing one student, the sweeper's purge of
  ``PURGE_BATCH`` students (all their events: they were stored today) and erasing the class.

Every line ends with the load average of the last minute: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportgen import create_app  # noqa: E402
from reportgen.domain.submission import loads  # noqa: E402
from reportgen.domain.upload import parse_upload  # noqa: E402
from reportgen.extensions import db  # noqa: E402
from reportgen.domain.periods import parse_period  # noqa: E402
from reportgen.history import store  # noqa: E402
from reportgen.models import SchoolClass  # noqa: E402

TYPES = ("saved_code", "ran_tests", "submitted", "viewed_hint")


def month_students(year: int, month: int, students: int, events: int, seed: int, ids: bool = False,
                   shift: timedelta = timedelta(0)) -> list[dict]:
    """The seeded events of a month (the same with or without ids; ``shift`` moves every time)."""
    rng = random.Random(seed * 100 + month)
    id_rng = random.Random(seed * 100 + month + 50)
    start = datetime(year, month, 1, 7, tzinfo=timezone.utc) + shift
    body = []
    for number in range(students):
        moment = start + timedelta(minutes=rng.randint(0, 600))
        student_events = []
        for _ in range(events):
            moment += timedelta(seconds=rng.randint(5, 24_000), microseconds=rng.randint(0, 999) * 1000)
            event = {"unit": str(rng.randint(1, 30)), "type": rng.choice(TYPES),
                     "created_time": moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"}
            if ids:
                event["id"] = str(uuid.UUID(int=id_rng.getrandbits(128), version=4))
            student_events.append(event)
        body.append({"student_id": f"student-{number:04d}", "events": student_events})
    return body


def load() -> str:
    return f"[load {os.getloadavg()[0]:.1f}]"


def embedded_postgresql(directory: str) -> tuple[str, object]:
    """An empty PostgreSQL database of pgserver's in ``directory`` (as the tests' fixtures start one)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", directory)
    import pgserver

    data = os.path.join(directory, "pg")
    server = pgserver.get_server(data, cleanup_mode="stop")
    server.psql("CREATE DATABASE history_bench;")
    return f"postgresql+psycopg2://postgres:@/history_bench?host={data}", server


def compact(document) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def database_size(app) -> int:
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            path = Path(db.engine.url.database)
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        size = connection.exec_driver_sql(
            "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['classes', 'class_students', "
            "'class_names', 'class_events', 'class_days', 'class_event_ids', 'class_reports']::regclass[]) AS c"
        ).scalar()
        db.session.rollback()
        return int(size)


class Explainer:
    """While ``on``, each statement on ``class_events`` is first explained and its plan printed
    (once a statement: a loop's are alike): ``EXPLAIN (ANALYZE, BUFFERS)`` in a savepoint rolled
    back (so that a delete deletes once), or with ``analyze`` off only the plan."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on, self.analyze, self.seen = False, True, set()
        event.listen(engine, "before_cursor_execute", self.explain)

    def explain(self, connection, cursor, statement, parameters, context, executemany):
        if not self.on or executemany or not re.search(r"\bclass_events\b", statement) or statement in self.seen:
            return
        self.seen.add(statement)
        raw = connection.connection.cursor()
        try:
            raw.execute("SAVEPOINT plan")
            raw.execute(f"EXPLAIN {'(ANALYZE, BUFFERS) ' if self.analyze else ''}{statement}", parameters)
            lines = [line for (line,) in raw.fetchall()]
            raw.execute("ROLLBACK TO SAVEPOINT plan")
        finally:
            raw.close()
        print("    " + " ".join(statement.split())[:400])
        print("\n".join("      " + line for line in lines))


def plans(app, client, month: str, repeat: int) -> None:
    """Time and (PostgreSQL) explain what reads or deletes stored events by student or by time."""

    def ok(response) -> None:
        assert response.status_code == 200, response.get_data(as_text=True)[:500]

    with app.app_context():
        explainer = Explainer(db.engine) if db.engine.dialect.name == "postgresql" else None
        if explainer is not None:  # the statistics and visibility map autovacuum keeps in the long run
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE class_events, class_students, class_days")

        def timed(name: str, calls: list, analyze: bool = True) -> None:
            """The first call explained (when the others are timed, its time is left out)."""
            spent = []
            for number, call in enumerate(calls):
                if explainer is not None:
                    explainer.on, explainer.analyze, explainer.seen = number == 0, analyze, set()
                started = time.perf_counter()
                call()
                spent.append(time.perf_counter() - started)
                if explainer is not None:
                    explainer.on = False
            counted = spent[1:] if len(spent) > 1 and explainer is not None else spent
            print(f"{name}: best {min(counted) * 1000:.0f} ms, median {statistics.median(counted) * 1000:.0f} ms "
                  f"of {len(counted)}  {load()}")

        found = db.session.scalar(db.select(SchoolClass).where(SchoolClass.namespace == "bench"))
        period = parse_period(month, found.timezone)
        db.session.rollback()
        timed("GET /namespaces/bench (its events per month)",
              [lambda: ok(client.get("/namespaces/bench"))] * (repeat + 1))
        timed(f"period read of {month}, every student",
              [lambda: store.period_students(found, period)] * (repeat + 1))
        timed(f"period read of {month}, one student",
              [lambda: store.period_students(found, period, "student-0007")] * (repeat + 1))
        db.session.rollback()
        timed("erase one student", [lambda number=number: ok(client.delete(f"/namespaces/bench/students/student-{number:04d}"))
                                    for number in range(1, repeat + 2)])
        later = datetime.now(timezone.utc) + timedelta(days=2)
        timed(f"sweeper's purge of {store.PURGE_BATCH} students (all their events)",
              [lambda: store.purge_expired(later)] * 3)
        timed("erase the class (plan not analyzed)", [lambda: ok(client.delete("/namespaces/bench"))], analyze=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="an empty database, or 'pgserver' for an embedded PostgreSQL "
                                           "(default: SQLite in a temporary directory)")
    parser.add_argument("--ids", action="store_true", help="every event with an id; 'again' re-times them")
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--append-months", type=int, default=5, help="months timed as 'append' (5 × 200,000 events)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plans", action="store_true", help="time and explain the reads and deletes of events")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="history-bench-")
    server = None
    if args.database == "pgserver":
        url, server = embedded_postgresql(directory)
    else:
        url = args.database or f"sqlite:///{directory}/bench.sqlite3"
    os.environ.setdefault("REPORTGEN_INSTANCE_DIR", directory)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "redis://unused",
                      "REPORTGEN_RATE_LIMIT": "", "REPORTGEN_SUBMIT_RATE_LIMIT": "",
                      "REPORTGEN_MAX_UPLOAD_OBJECTS": 10**7})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    months = [(2024 + (m // 12), m % 12 + 1) for m in range(args.months)]
    def month_bodies(year: int, month: int, shift: timedelta = timedelta(0)) -> list[bytes]:
        """A month in one body, or (with ids, about 24 MiB) in two halves of its students: requests of
        at most 20 MiB, as the issue's target says."""
        students = month_students(year, month, args.students, args.events, seed=7, ids=args.ids, shift=shift)
        parts = 2 if args.ids else 1
        size = -(-len(students) // parts)
        return [compact(students[start:start + size]) for start in range(0, len(students), size)]

    bodies = [month_bodies(year, month) for year, month in months]
    timed = [body for parts in bodies[:args.append_months] for body in parts]
    later = [body for parts in bodies[args.append_months:] for body in parts]
    again_bodies = timed if not args.ids else [
        body for year, month in months[:args.append_months] for body in month_bodies(year, month, timedelta(hours=1))]
    assert max(len(body) for body in timed + again_bodies) <= 20 * 2**20
    events = args.students * args.events * args.append_months
    print(f"machine: {os.cpu_count()} cores; database: {url.split(':')[0]}{' (pgserver)' if server else ''}; "
          f"{'events with ids' if args.ids else 'events without ids'}")
    print(" ".join(sys.argv))
    print(f"{len(timed)} bodies of {args.students * args.append_months // len(timed):,} students × {args.events} events, "
          f"{max(len(b) for b in timed) / 2**20:.1f} MiB at most, {events:,} events")

    started = time.perf_counter()
    for body in timed:
        parse_upload(loads(body))
    reference = time.perf_counter() - started
    print(f"reference (intake only):   {reference:6.2f} s  {load()}")

    client = app.test_client()
    before = database_size(app)

    def post_all(chosen) -> tuple[float, int]:
        started, added = time.perf_counter(), 0
        for body in chosen:
            response = client.post("/namespaces/bench/events", data=body, content_type="application/json")
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            added += response.get_json()["added"]
        return time.perf_counter() - started, added

    took, added = post_all(timed)
    print(f"append:                    {took:6.2f} s  added {added:,}  (target ≤ 15 s)  {load()}")
    grown = database_size(app) - before
    took, added = post_all(again_bodies)
    print(f"again{', re-timed' if args.ids else ''}:{' ' * (21 - (10 if args.ids else 0))}{took:6.2f} s  added {added:,}  "
          f"(target 0 added, ≤ 15 s)  {load()}")
    json_bytes = sum(len(compact(event)) for body in timed for student in json.loads(body) for event in student["events"])
    with_students = sum(len(body) for body in timed)
    if "postgresql" in url:
        with app.app_context():
            sizes = db.session.connection().exec_driver_sql(
                "SELECT c, pg_total_relation_size(c), pg_relation_size(c) FROM unnest(ARRAY['class_events', "
                "'class_days', 'class_event_ids']::regclass[]) AS c").all()
            db.session.rollback()
        print("  relations (indexes included): " + ", ".join(
            f"{name} {size / 2**20:.1f} MiB (heap {heap / 2**20:.1f})" for name, size, heap in sizes))
    print(f"storage:                   {grown / 2**20:6.1f} MiB for {json_bytes / 2**20:.1f} MiB of compact event JSON "
          f"= {grown / json_bytes:.2f}×  ({grown / with_students:.2f}× the request bodies; target ≤ 1.5×)  {load()}")
    if later:
        post_all(later)
    total = args.students * args.events * len(bodies)
    year, month = months[len(months) // 2]

    def best_and_median(url: str) -> tuple[float, float, dict]:
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.get_data(as_text=True)
        return min(times), statistics.median(times), response.get_json()

    # the same month as a window starting a second after midnight: not whole local days, so read
    # from the events (the way every summary was read before the per-day roll-up): the reference
    last_day = (datetime(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    best, middle, _ = best_and_median(f"/namespaces/bench/summary?from={year}-{month:02d}-01T00:00:01"
                                      f"&to={year}-{month:02d}-{last_day}")
    print(f"reference (from events):   best {best * 1000:.0f} ms, median {middle * 1000:.0f} ms  {load()}")
    best, middle, body = best_and_median(f"/namespaces/bench/summary?period={year}-{month:02d}")
    print(f"summary of {year}-{month:02d} on {total:,} events: best {best * 1000:.0f} ms, median "
          f"{middle * 1000:.0f} ms  ({body['active_students']:,} active, {body['events']:,} events; "
          f"target ≤ 300 ms)  {load()}")
    if args.plans:
        plans(app, client, f"{year}-{month:02d}", args.repeat)
    with app.app_context():
        db.engine.dispose()
    if server is not None:
        server.cleanup()
    shutil.rmtree(directory, ignore_errors=True)

if __name__ == "__main__":
    main()
