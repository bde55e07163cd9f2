"""The subscriptions' tick with many subscriptions stored and none due (issue 22: ≤ 50 ms with 10,000).

    .venv/bin/python bench/subscriptions_bench.py                       # SQLite in a temporary directory
    .venv/bin/python bench/subscriptions_bench.py --database postgresql+psycopg2://…   # an empty database

Stores one class and ``--subscriptions`` subscriptions (monthly and weekly, next runs spread over the
coming weeks), then times, best and median of ``--repeat``:

* ``tick``: :func:`reportgen.subscriptions.schedule.tick` at a time when none is due (what runs
  every minute almost always): the index on ``paused, next_due`` answers "none";
* ``reference``: what a tick without that index would do, measured in the same run: read every
  subscription with its class and compute its next run in the class's zone
  (:func:`reportgen.domain.schedules.due_after`).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from reportgen import create_app  # noqa: E402
from reportgen.domain.periods import to_microseconds  # noqa: E402
from reportgen.domain.schedules import due_after  # noqa: E402
from reportgen.extensions import db  # noqa: E402
from reportgen.models import SchoolClass, Subscription, utcnow  # noqa: E402
from reportgen.subscriptions.schedule import tick  # noqa: E402


def timed(function, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    directory = tempfile.mkdtemp()
    url = args.database or f"sqlite:///{directory}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "redis://127.0.0.1:1/0",
                      "REPORTGEN_INSTANCE_DIR": directory})
    with app.app_context():
        upgrade()
        now = utcnow()
        db.session.execute(insert(SchoolClass).values(owner="operator", namespace="bench", timezone="Europe/Berlin",
                                                      created_at=now))
        class_id = db.session.scalar(select(SchoolClass.id))
        rows = []
        for number in range(args.subscriptions):
            weekly = number % 2
            due = now + timedelta(minutes=5 + number % 40_000)
            rows.append({"owner": "operator", "class_id": class_id, "every": "week" if weekly else "month",
                         "day": 1 + number % 7, "time": "07:00", "formats": ["pdf"],
                         "recipients": ["teacher@school.example"], "students": False, "skip_if_empty": True,
                         "paused": number % 10 == 0, "next_due": to_microseconds(due),
                         "next_period": "2026-W48" if weekly else "2026-11", "created_at": now})
        for start in range(0, len(rows), 2_000):
            db.session.execute(insert(Subscription), rows[start:start + 2_000])
        db.session.commit()

        def naive() -> None:
            for subscription in db.session.scalars(select(Subscription)):
                due_after(subscription.every, subscription.day, subscription.time,
                          subscription.school_class.timezone, now)
            db.session.rollback()

        def one_tick() -> None:
            assert tick(datetime.now(timezone.utc)).due == 0

        one_tick()
        best, middle = timed(one_tick, args.repeat)
        reference_best, reference_middle = timed(naive, max(3, args.repeat // 5))
        print(f"database: {db.engine.dialect.name}, subscriptions: {args.subscriptions:,}, none due")
        print(f"tick:                  best {best * 1000:7.2f} ms, median {middle * 1000:7.2f} ms")
        print(f"reference (scan all):  best {reference_best * 1000:7.2f} ms, median {reference_middle * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
