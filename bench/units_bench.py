"""What distinct units cost: one student whose events are each on a unit of its own, rendered in
every format the way a worker does (``render.documents.render_document``), each case in a fresh process.

    .venv/bin/python bench/units_bench.py --units 500 1000 2000 5000 --formats html pdf csv

Prints, per case, the render time, the process's peak RSS and the document's size, next to the
same student with its events on 30 units (the reference, measured in the same run): the cost
that grows with distinct units, not with events. The bounds in ``reportgen.domain.limits``
(``MAX_UNITS_PER_STUDENT``, ``MAX_UNITS_PER_UPLOAD``) are chosen from these numbers.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from reportgen.render.documents import render_document
events, units, report_format = {events}, {units}, {report_format!r}
upload = [{{"student_id": "s", "namespace": "ns", "events": [
    {{"unit": f"unit-{{n % units:036d}}", "type": "saved_code",
      "created_time": f"2024-07-{{1 + n // 1440:02d}}T{{n // 60 % 24:02d}}:{{n % 60:02d}}:00Z"}} for n in range(events)]}}]
started = time.perf_counter()
document = render_document(report_format, json.dumps(upload))
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "bytes": len(document)}}))
"""


def run(events: int, units: int, report_format: str) -> dict:
    code = CASE.format(root=str(ROOT), events=events, units=units, report_format=report_format)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    parser.add_argument("--formats", nargs="+", default=["html", "pdf", "csv"])
    args = parser.parse_args()
    print(f"{'format':6} {'events':>7} {'units':>7} {'seconds':>8} {'peak MiB':>9} {'MB out':>8}")
    for report_format in args.formats:
        for units in args.units:
            for measured_units in (30, units):
                row = run(units, measured_units, report_format)
                if "error" in row:
                    print(f"{report_format:6} {units:7} {measured_units:7} {row['error']}")
                    continue
                print(f"{report_format:6} {units:7} {measured_units:7} {row['seconds']:8.2f} {row['peak_mib']:9.0f} "
                      f"{row['bytes'] / 1e6:8.2f}", flush=True)


if __name__ == "__main__":
    main()
