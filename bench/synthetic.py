"""Seeded synthetic submissions for benchmarks, examples and load tests.

    python bench/synthetic.py --students 19 --events 2800 -o examples/students.json
    python bench/synthetic.py --shape sample -o sample.json     # the public sample's shape

``make_students`` spreads events uniformly (mixed unit types and UTC offsets, shuffled);
``sample_shape`` imitates the public sample file: hex ids, sittings, events grouped by unit.
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


SAMPLE_NAMESPACE = "ns_example"
SAMPLE_UNITS = tuple(range(5, 18))  # "5" … "17"


def _sample_time(moment: datetime) -> str:
    """``2024-07-21 03:04:55.939000+00:00``: UTC, always six fraction digits (milliseconds)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"


def _split(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), each at least ``minimum``."""
    spare = total - minimum * len(weights)
    shares = [spare * w / sum(weights) for w in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [minimum + count for count in counts]


def _sample_student(rng: random.Random, count: int, *, unit_range: tuple[int, int] = (4, 8),
                    return_chance: float = 0.35, pace: float = 1.0, late_days: float = 0.0,
                    struggle: tuple[int, int] | None = None) -> list[dict]:
    """One student's ``count`` events: units in course order, some revisited, in sittings.

    The defaults make :func:`sample_shape`'s students (and its random sequence); the keywords
    make the other kinds of :func:`mixed_class`: ``pace`` scales the time between saves,
    ``late_days`` starts that much later, ``struggle = (visits, events)`` puts that many events
    on one unit in that many visits, with a single submission.
    """
    units = sorted(rng.sample(SAMPLE_UNITS, max(1, min(count, rng.randint(*unit_range), len(SAMPLE_UNITS)))))
    per_unit = _split(count, [rng.uniform(0.3, 1.7) for _ in units])
    hard = None
    if struggle is not None:
        hard = units[len(units) // 2]
        per_unit[units.index(hard)] = struggle[1]
    # Visits in time order: each unit's first visit in course order, then for some units
    # one or two later returns (fixing an old exercise), placed anywhere after the first.
    visits: list[list] = []  # [unit, events]
    returns: list[tuple[int, int, int]] = []  # (unit, events, earliest position)
    for unit, events in zip(units, per_unit):
        parts = [events]
        if unit == hard:  # back and forth: between its visits, a glance at another unit
            parts = _split(events, [rng.uniform(0.5, 1.5) for _ in range(struggle[0])])
            others = units[:units.index(hard)] or [other for other in units if other != hard]
            for part in parts[:-1]:
                visits += [[unit, part], [rng.choice(others), rng.randint(1, 2)]] if others else [[unit, part]]
            parts = parts[-1:]
        elif events >= 6 and rng.random() < return_chance:
            parts = _split(events, [rng.uniform(1, 4)] + [rng.uniform(0.2, 1) for _ in range(rng.randint(1, 2))])
        visits.append([unit, parts[0]])
        returns += [(unit, part, len(visits)) for part in parts[1:]]
    for unit, events, earliest in returns:
        visits.insert(rng.randint(earliest, len(visits)), [unit, events])
    # A few submissions per unit, spread over its visits, mostly towards the end of a visit.
    submissions = {unit: min(events, rng.randint(1, 4)) for unit, events in zip(units, per_unit)}
    if hard is not None:
        submissions[hard] = 1
    moment = datetime(2024, 7, 15, tzinfo=timezone.utc) + timedelta(
        days=rng.randint(0, 10) + late_days, hours=rng.randint(7, 22), minutes=rng.randint(0, 59))
    events_out = []
    for number, (unit, events) in enumerate(visits):
        if number:  # between visits: carry on in the same sitting, or come back hours/days later
            if rng.random() < 0.45:
                moment += timedelta(minutes=rng.uniform(1, 15))
            else:
                moment += timedelta(hours=rng.choice((rng.uniform(2, 12), rng.uniform(12, 96))))
        last = all(v[0] != unit for v in visits[number + 1:])
        here = submissions[unit] if last else min(submissions[unit], rng.randint(0, 1))
        here = min(here, events)
        submissions[unit] -= here
        tail = range(events // 2, events)
        sub_positions = set(rng.sample(tail, here)) if len(tail) >= here else set(range(events - here, events))
        for position in range(events):
            if position:
                if rng.random() < 0.02:  # a break in the middle of a long visit
                    moment += timedelta(hours=rng.uniform(1, 20))
                else:  # seconds to a few minutes between saves
                    moment += timedelta(seconds=min(600.0, rng.lognormvariate(3.2, 1.0)) * pace)
            moment += timedelta(microseconds=rng.randint(0, 999) * 1000)
            moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
            events_out.append({
                "unit": str(unit),
                "type": "submission" if position in sub_positions else "saved_code",
                "created_time": _sample_time(moment),
            })
    # The real file lists a student's events grouped by unit (units as text, "10" < "5"),
    # each group in time order, so a reader must sort by time itself.
    events_out.sort(key=lambda event: (event["unit"], event["created_time"]))
    return events_out


def sample_shape(students: int = 19, events_per_student: int = 147, seed: int = 7) -> list[dict]:
    """A submission shaped like the public sample (19 students, 2,793 events in "ns_example").

    ``students × events_per_student`` events in total, unevenly shared (about 0.4–1.6× the
    mean each); 32-hex-digit ids; units "5"–"17" as strings, 4–8 per student; mostly
    "saved_code" with 1–4 "submission" events per unit; saves seconds to minutes apart
    within a sitting, sittings hours or days apart, about a third of the units revisited
    later; each student's events grouped by unit, not in time order. Deterministic per seed.
    """
    rng = random.Random(seed)
    total = students * events_per_student
    counts = _split(total, [rng.uniform(0.4, 1.6) for _ in range(students)])
    return [
        {
            "student_id": f"{rng.getrandbits(128):032x}",
            "namespace": SAMPLE_NAMESPACE,
            "events": _sample_student(rng, count),
        }
        for count in counts
    ]


#: The kinds of student in :func:`mixed_class`, their share of a class and the keywords of
#: :func:`_sample_student` that make them; ``watch`` says whether a teacher should look at them.
KINDS = {
    "steady": (0.62, False, {}),
    "quick": (0.12, False, {"unit_range": (7, 9), "return_chance": 0.0, "pace": 0.25}),
    "struggling": (0.10, True, {"struggle": (9, 90)}),
    "barely started": (0.06, True, {"unit_range": (1, 2)}),
    "late": (0.05, True, {"late_days": 21}),
    "slow": (0.05, True, {"pace": 5.0}),
}


def mixed_class(students: int = 30, events_per_student: int = 147, seed: int = 7) -> tuple[list[dict], list[str]]:
    """A class of :data:`KINDS` of students in the sample's shape, and each student's kind.

    Most are steady (the sample's students); some work quickly and cleanly (more units, no
    returns, a quarter of the time between saves), some struggle on one unit (90 events in
    9 visits, one submission), barely start (1–2 units, a tenth of the events), start three
    weeks late or work at a fifth of the pace. Kinds are dealt by their shares (largest
    remainders) and shuffled into the upload order. Deterministic per seed.
    """
    rng = random.Random(seed)
    shares = _split(students, [share for share, _, _ in KINDS.values()], minimum=0)
    kinds = [kind for kind, count in zip(KINDS, shares) for _ in range(count)]
    rng.shuffle(kinds)
    cohort = []
    for kind in kinds:
        count = round(events_per_student * rng.uniform(0.6, 1.4))
        if kind == "barely started":
            count = max(3, count // 10)
        cohort.append({"student_id": f"{rng.getrandbits(128):032x}", "namespace": SAMPLE_NAMESPACE,
                       "events": _sample_student(rng, count, **KINDS[kind][2])})
    return cohort, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("uniform", "sample"), default="uniform",
                        help="uniform: make_students; sample: the public sample's shape (sample_shape)")
    parser.add_argument("--students", type=int, default=19)
    parser.add_argument("--events", type=int, default=2800, help="events in total (uniform)")
    parser.add_argument("--events-per-student", type=int, default=147, help="mean events per student (sample)")
    parser.add_argument("--units", type=int, default=30, help="units (uniform)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", type=argparse.FileType("w"), default=sys.stdout)
    args = parser.parse_args()
    if args.shape == "sample":
        submission = sample_shape(args.students, args.events_per_student, args.seed)
    else:
        submission = make_students(args.students, args.events, args.units, args.seed)
    json.dump(submission, args.output, indent=1)
    args.output.write("\n")


if __name__ == "__main__":
    main()
