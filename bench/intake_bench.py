"""Intake on the web process's hot path: bytes → JSON → validated students → sequences.

    .venv/bin/python bench/intake_bench.py                                   # 1000 × 1000, xAPI, Moodle
    .venv/bin/python bench/intake_bench.py --students 10000 --events-per-student 100
    .venv/bin/python bench/intake_bench.py --profile parse_upload            # cProfile one stage
    .venv/bin/python bench/intake_bench.py --only imports --import-mib 20    # the importers alone

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
* peak RSS, and how far it is above the RSS once the document is built;
* detection (:func:`reportgen.domain.importers.detect`) on that body alone, and the total again
  with detection in front, alternating with the total without it (its cost must not show).

First, before the reportgen document exists, the importers (issue 21) on ``--import-mib`` MiB of
realistic data each, best of ``--repeat``: xAPI statements shaped like the Moodle xAPI log
store's (an account actor, a course grouping, a category, extensions, a result on one in three,
about 1 KB each) and a Moodle log download (Moodle's columns and time format, Europe/Berlin),
each detected, parsed, mapped and validated (``Imported.upload``, i.e. ``parse_upload``), with
the peak RSS of the process after each (target: ≤ 1.5 s each, within the web's 400 MiB).
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

from reportgen.domain.importers import ImportOptions, detect, read_imported  # noqa: E402
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


XAPI_VERBS = (("http://id.tincanapi.com/verb/viewed", "viewed"),
              ("http://activitystrea.ms/schema/1.0/start", "started"),
              ("http://adlnet.gov/expapi/verbs/completed", "completed"),
              ("http://adlnet.gov/expapi/verbs/answered", "answered"))
MOODLE_EVENTS = (("Course module viewed", "viewed the '{module}' activity with course module id '{cmid}'"),
                 ("Quiz attempt started", "has started the attempt with id '{attempt}' for the quiz with course "
                                          "module id '{cmid}'"),
                 ("Quiz attempt submitted", "has submitted the attempt with id '{attempt}' for the quiz with course "
                                            "module id '{cmid}'"),
                 ("Submission created.", "has created a submission for the assignment with course module id '{cmid}'"))


def make_xapi(target_bytes: int, students: int = 500, units: int = 60, seed: int = 13) -> bytes:
    """A JSON array of realistic statements, as many as fit in ``target_bytes`` (an upload at the
    size limit, ``MAX_CONTENT_LENGTH``, is still accepted)."""
    rng = random.Random(seed)
    moment = datetime(2024, 9, 2, 7, 0, tzinfo=timezone.utc)
    site = "https://moodle.example.edu"
    chunks, size, number = [], 2, 0
    while True:
        number += 1
        moment += timedelta(seconds=rng.randint(1, 40))
        user = rng.randint(1, students)
        cmid = rng.randint(1, units)
        course = 1 + cmid % 3
        verb_id, verb = rng.choice(XAPI_VERBS)
        statement = {
            "id": f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
                  f"a{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}",
            "actor": {"name": f"Student {user:04d}", "account": {"homePage": site, "name": str(user)}},
            "verb": {"id": verb_id, "display": {"en": verb}},
            "object": {"id": f"{site}/mod/quiz/view.php?id={cmid}",
                       "definition": {"type": "http://adlnet.gov/expapi/activities/assessment",
                                      "name": {"en": f"Week {cmid} quiz"}}},
            "timestamp": moment.isoformat(),
            "context": {
                "platform": "Moodle", "language": "en",
                "extensions": {"http://lrs.learninglocker.net/define/extensions/info": {
                    "http://moodle.org": "4.3.2", "https://github.com/xAPI-vle/moodle-logstore_xapi": "4.7.0",
                    "event_name": "\\mod_quiz\\event\\course_module_viewed",
                    "event_function": "\\src\\transformer\\events\\mod_quiz\\course_module_viewed"}},
                "contextActivities": {
                    "grouping": [
                        {"id": site, "definition": {"type": "http://id.tincanapi.com/activitytype/lms",
                                                    "name": {"en": "Example University"}}},
                        {"id": f"{site}/course/view.php?id={course}",
                         "definition": {"type": "http://id.tincanapi.com/activitytype/lms/course",
                                        "name": {"en": f"Course {course}"}}}],
                    "category": [{"id": "http://moodle.org", "definition": {
                        "type": "http://id.tincanapi.com/activitytype/source", "name": {"en": "Moodle"}}}]}},
        }
        if number % 3 == 0:
            statement["result"] = {"score": {"raw": rng.randint(0, 10), "min": 0, "max": 10},
                                   "completion": True, "success": rng.random() < 0.7, "duration": "PT42S"}
        chunk = json.dumps(statement).encode()
        if size + len(chunk) + 2 > target_bytes:
            return b"[" + b", ".join(chunks) + b"]"
        chunks.append(chunk)
        size += len(chunk) + 2


def make_moodle_log(target_bytes: int, students: int = 500, units: int = 60, seed: int = 17) -> bytes:
    """A Moodle log download (UTF-8 with a BOM, Moodle's columns, newest first) of at most ``target_bytes``."""
    import csv
    import io
    from zoneinfo import ZoneInfo

    rng = random.Random(seed)
    berlin = ZoneInfo("Europe/Berlin")
    moment = datetime(2024, 12, 20, 18, 0, tzinfo=timezone.utc)
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(["Time", "User full name", "Affected user", "Event context", "Component", "Event name",
                     "Description", "Origin", "IP address"])
    while body.tell() < target_bytes - 600:  # a row is under 300 bytes, as UTF-8 too
        moment -= timedelta(seconds=rng.randint(1, 60))
        local = moment.astimezone(berlin)
        if local.fold or local.replace(fold=1).utcoffset() != local.utcoffset():
            continue  # the hour the clocks go back: Moodle's log cannot say which one it was
        user, cmid = rng.randint(1, students), rng.randint(1, units)
        event, description = rng.choice(MOODLE_EVENTS)
        text = description.format(module="quiz", cmid=cmid, attempt=rng.randint(1, 9999))
        writer.writerow([f"{local.day}/{local:%m/%y, %H:%M:%S}", f"Student {user:04d}", "-", f"Quiz: Week {cmid} quiz",
                         "Quiz", event, f"The user with id '{user}' {text}.", "web", f"192.0.2.{user % 250}"])
    return b"\xef\xbb\xbf" + body.getvalue().encode()[:target_bytes - 3].rsplit(b"\n", 1)[0] + b"\n"


def bench_imports(mib: float, repeat: int) -> None:
    """Each importer on ``mib`` MiB: detection, parsing and mapping, validation; peak RSS after."""
    for name, make, options in (("xapi", make_xapi, ImportOptions()),
                                ("moodle", make_moodle_log, ImportOptions(timezone="Europe/Berlin"))):
        built = time.perf_counter()
        body = make(int(mib * 2**20))
        print(f"{name}: {len(body) / 2**20:.1f} MiB (built in {time.perf_counter() - built:.1f} s)", end="")

        def read():
            return read_imported(body, detect(body), options)

        imported = read()
        print(f", {imported.read:,} records, {imported.used:,} events, {len(imported.students):,} students")
        del imported
        stages = {"detect": lambda: detect(body), "read": read, "read + upload": lambda: read().upload()}
        for stage, run in stages.items():
            wall, cpu = best(run, repeat)
            print(f"{stage:>20}: {wall:6.3f} s wall {cpu:6.3f} s CPU")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'peak RSS so far':>20}: {peak:6.0f} MiB")
        del body


def bench_detection(body: bytes, total, repeat: int) -> None:
    """Detection alone, and the whole intake with and without it in front, alternating."""
    calls = 10_000
    started = time.perf_counter()
    for _ in range(calls):
        detect(body)
    print(f"{'detect':>13}: {(time.perf_counter() - started) / calls * 1e6:6.1f} µs per upload (mean of {calls:,})")
    without, with_detection = [], []
    for _ in range(repeat):
        for runs, stage in ((without, total), (with_detection, lambda: (detect(body), total()))):
            gc.collect()
            wall, cpu, result = timed(stage)
            del result
            runs.append((wall, cpu))
    for name, runs in (("no detection", without), ("detection", with_detection)):
        print(f"{name:>13}: {min(w for w, _ in runs):6.3f} s wall {min(c for _, c in runs):6.3f} s CPU  total, best of "
              f"{repeat} alternating (runs {', '.join(f'{w:.2f}/{c:.2f}' for w, c in runs)} s wall/CPU)")


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
    parser.add_argument("--import-mib", type=float, default=20, help="MiB of xAPI and of Moodle log for the importers")
    parser.add_argument("--only", choices=("imports", "reportgen"), help="run one part only")
    args = parser.parse_args(argv)

    if args.only != "reportgen" and not args.profile:
        bench_imports(args.import_mib, args.repeat)
        if args.only == "imports":
            return

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
    del document, upload
    bench_detection(body, total, args.repeat)


def profile(stage) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(stage)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
