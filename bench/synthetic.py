"""Seeded synthetic submissions for benchmarks, examples and load tests.

    python bench/synthetic.py --students 19 --events 2800 -o examples/students.json
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

EVENT_TYPES = ("saved_code", "ran_tests", "submitted", "viewed_hint")
OFFSETS = (timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))


def make_students(students: int, events: int, units: int = 30, seed: int = 7, namespace: str = "python-101") -> list[dict]:
    """``students`` students sharing ``events`` events in total, spread over ``units`` units."""
    rng = random.Random(seed)
    start = datetime(2024, 7, 1, 8, 0, tzinfo=timezone.utc)
    per_student = [events // students + (1 if i < events % students else 0) for i in range(students)]
    submission = []
    for number, count in enumerate(per_student, start=1):
        moment = start + timedelta(minutes=rng.randint(0, 600))
        student_events = []
        for _ in range(count):
            moment += timedelta(seconds=rng.randint(5, 900), microseconds=rng.randint(0, 999) * 1000)
            unit = rng.randint(1, units)
            student_events.append({
                "unit": unit if rng.random() < 0.5 else str(unit),
                "type": rng.choice(EVENT_TYPES),
                "created_time": moment.astimezone(rng.choice(OFFSETS)).isoformat(sep=" "),
            })
        rng.shuffle(student_events)
        submission.append({"student_id": f"student-{number:04d}", "namespace": namespace, "events": student_events})
    return submission


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=19)
    parser.add_argument("--events", type=int, default=2800, help="events in total")
    parser.add_argument("--units", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", type=argparse.FileType("w"), default=sys.stdout)
    args = parser.parse_args()
    json.dump(make_students(args.students, args.events, args.units, args.seed), args.output, indent=1)
    args.output.write("\n")


if __name__ == "__main__":
    main()
