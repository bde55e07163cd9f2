"""Intake on the web process's hot path: bytes → JSON → validated students → sequences.

    .venv/bin/python bench/intake_bench.py                                   # 1000 × 1000
    .venv/bin/python bench/intake_bench.py --students 10000 --events-per-student 100
    .venv/bin/python bench/intake_bench.py --profile parse_upload            # cProfile one stage

Builds a seeded synthetic upload in memory (times mostly in the sample's form
``2024-07-21 03:04:55.939000+00:00``, about one in five with ``T``/``Z``, another offset, naive
or whole seconds; units as strings and integers; mixed types; events shuffled in each student).
Then, best of ``--repeat``, in wall and CPU seconds (CPU is the steadier on a shared machine):

* ``total``: ``loads`` + ``parse_upload`` + ``sequence_students`` in a row, as a request does,
  measured first, while nothing else of its size is alive;
* ``gc after``: ``gc.collect(0)``, ``(1)``, ``(2)`` right after a total, the traversals the
  collector makes of the new objects once it runs (validation pauses it while it builds them);
* each stage on its own: ``loads`` (bytes → Python), ``parse_upload`` (validation),
  ``sequence_students`` (labels and time order);
* peak RSS, and how far it is above the RSS once the document is built.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportgen.domain.sequencing import sequence_students  # noqa: E402
from reportgen.domain.submission import loads  # noqa: E402
from reportgen.domain.upload import parse_upload

EVENT_TYPES = ("saved_code", "ran_tests", "submitted", "viewed_hint")
OFFSETS = (timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)))


def _time_text(rng: random.Random, moment: datetime) -> str:
    """Mostly the sample's form; about one in five in another accepted form."""
    roll = rng.random()
    if roll < 0.80:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"
    if roll < 0.88:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if roll < 0.95:
        return moment.astimezone(rng.choice(OFFSETS)).isoformat()
    if roll < 0.98:
        return moment.strftime("%Y-%m-%d %H:%M:%S")  # naive: UTC
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_document(students: int, per_student: int, units: int = 40, seed: int = 11) -> bytes:
    """The upload as bytes, written a student at a time (the Python objects of the whole
    document never exist, so the peak RSS below is mostly the intake's)."""
    rng = random.Random(seed)
    start = datetime(2024, 7, 1, 8, 0, tzinfo=timezone.utc)
    chunks = []
    for number in range(students):
        moment = start + timedelta(minutes=rng.randint(0, 6000))
        events = []
        for _ in range(per_student):
            moment += timedelta(seconds=rng.randint(1, 900), microseconds=rng.randint(0, 999) * 1000)
            unit = rng.randint(1, units)
            event = {"unit": unit if rng.random() < 0.5 else str(unit), "type": rng.choice(EVENT_TYPES),
                     "created_time": _time_text(rng, moment)}
            if rng.random() < 0.01:
                del event["type"]
            events.append(event)
        rng.shuffle(events)
        student = {"student_id": f"{number:08x}{rng.getrandbits(64):016x}", "namespace": "ns_example",
                   "events": events}
        chunks.append(json.dumps(student).encode())
    return b"[" + b", ".join(chunks) + b"]"


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def timed(stage) -> tuple[float, float, object]:
    """Wall and CPU seconds of one call, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = stage()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def best(stage, repeat: int) -> tuple[float, float]:
    """The best wall and the best CPU time of ``repeat`` calls (each result freed before the next)."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        wall, cpu, result = timed(stage)
        del result
        walls.append(wall)
        cpus.append(cpu)
    return min(walls), min(cpus)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--events-per-student", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=("loads", "parse_upload", "sequence", "total"),
                        help="print a cProfile of one stage (one run) instead of timing")
    args = parser.parse_args(argv)

    built = time.perf_counter()
    body = make_document(args.students, args.events_per_student)
    events = args.students * args.events_per_student
    print(f"document: {args.students} students × {args.events_per_student} events = {events:,} events, "
          f"{len(body) / 1e6:.1f} MB (built in {time.perf_counter() - built:.1f} s)")

    def total():
        return sequence_students(parse_upload(loads(body)).students)

    def collections_left() -> None:
        """What the collector does about the new objects once it runs: young, middle, full."""
        for generation in (0, 1, 2):
            gc.collect(generation)

    if args.profile:
        document = loads(body)
        upload = parse_upload(document)
        return profile({"total": total, "loads": lambda: loads(body), "parse_upload": lambda: parse_upload(document),
                        "sequence": lambda: sequence_students(upload.students)}[args.profile])
    baseline = rss_mib()
    # The whole request first, with nothing else of this size alive (as in the web process),
    # then what the collector does about what it left.
    totals, after = [], []
    for _ in range(args.repeat):
        gc.collect()
        wall, cpu, result = timed(total)
        totals.append((wall, cpu))
        after.append(timed(collections_left)[:2])
        del result
    document = loads(body)
    upload = parse_upload(document)
    stages = {
        "loads": lambda: loads(body),
        "parse_upload": lambda: parse_upload(document),
        "sequence": lambda: sequence_students(upload.students),
    }

    def line(name: str, wall: float, cpu: float, note: str = "") -> None:
        print(f"{name:>13}: {wall:6.3f} s wall {cpu:6.3f} s CPU  ({wall / events * 1e6:.2f} µs/event){note}")

    print("best of", args.repeat, "(CPU time is steadier on a shared machine)")
    sums = [0.0, 0.0]
    for name, stage in stages.items():
        wall, cpu = best(stage, args.repeat)
        sums[0] += wall
        sums[1] += cpu
        line(name, wall, cpu)
    line("sum of stages", *sums)
    line("total", min(w for w, _ in totals), min(c for _, c in totals),
         f"  runs: {', '.join(f'{w:.2f}' for w, _ in totals)}")
    line("gc after", min(w for w, _ in after), min(c for _, c in after), "  gc.collect(0), (1), (2) after a total")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak RSS':>13}: {peak:6.0f} MiB  ({peak - baseline:.0f} MiB above the {baseline:.0f} MiB "
          "after building the document)")


def profile(stage) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(stage)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
