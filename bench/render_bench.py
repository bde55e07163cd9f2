"""Time and peak memory of the report renderer (PDF and HTML) on seeded synthetic data.

    .venv/bin/python bench/render_bench.py [--quick] [--repeat N] [--compare]

Each case runs in a fresh interpreter so its peak RSS (``resource.getrusage``) is its own;
"base" is the RSS after imports and data generation, before rendering. Prints a table and
the growth of PDF time with the number of events (linear means 5k ≈ 5× and 10k ≈ 10× 1k).
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EVENT_TYPES = ("saved_code", "ran_tests", "submitted", "viewed_hint")
#: name → (students, events in total); the cohort case has the shape of a real upload.
CASES = {
    "1 student, 1,000 events": (1, 1_000),
    "1 student, 5,000 events": (1, 5_000),
    "1 student, 10,000 events": (1, 10_000),
    "19 students, 2,800 events": (19, 2_800),
}
QUICK_CASES = ("1 student, 1,000 events", "19 students, 2,800 events")
SINGLE_DOCUMENT = "single-pdf"


def synthetic_submission(students: int, events: int, units: int = 30, seed: int = 7) -> list[dict]:
    """``students`` students sharing ``events`` events over ``units`` units, in shuffled order."""
    rng = random.Random(seed)
    start = datetime(2024, 7, 1, 8, 0, tzinfo=timezone.utc)
    submission = []
    for number in range(students):
        count = events // students + (1 if number < events % students else 0)
        moment = start + timedelta(minutes=rng.randint(0, 600))
        student_events = []
        for _ in range(count):
            moment += timedelta(seconds=rng.randint(5, 900), milliseconds=rng.randint(0, 999))
            unit = rng.randint(1, units)
            student_events.append({
                "unit": unit if rng.random() < 0.5 else str(unit),
                "type": rng.choice(EVENT_TYPES),
                "created_time": moment.isoformat(sep=" "),
            })
        rng.shuffle(student_events)
        submission.append({"student_id": f"student-{number + 1:04d}", "namespace": "python-101",
                           "events": student_events})
    return submission


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, output_format: str, repeat: int) -> dict:
    """Render one case in this process and return its measurements."""
    sys.path.insert(0, str(ROOT))
    from reportgen import rendering
    from reportgen.domain.report_data import build_report
    from reportgen.domain.submission import parse_text

    students, events = CASES[case]
    report = build_report(parse_text(json.dumps(synthetic_submission(students, events))))
    rendering.render_pdf(build_report(parse_text(json.dumps(synthetic_submission(1, 5)))))
    base = peak_rss_mb()
    if output_format == "pdf":
        render = rendering.render_pdf
    elif output_format == "html":
        render = rendering.render_html
    else:
        def render(data):
            html = rendering._render_document(data, pdf=True, overview=True, sections=data.students)
            return rendering.html_to_pdf(html)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        output = render(report)
        best = min(best, time.perf_counter() - started)
    return {"seconds": best, "base_mb": base, "peak_mb": peak_rss_mb(), "bytes": len(output), "events": events}


def measure(case: str, output_format: str, repeat: int) -> dict:
    """Run one case in a fresh interpreter, so the peak RSS belongs to that case alone."""
    command = [sys.executable, __file__, "--case", case, "--format", output_format, "--repeat", str(repeat)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 1,000-event and the 19-student case")
    parser.add_argument("--repeat", type=int, default=1, help="renders per case; the fastest is reported")
    parser.add_argument("--compare", action="store_true",
                        help="also render the 19-student case as one xhtml2pdf document (no per-student merge)")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--format", choices=("pdf", "html", SINGLE_DOCUMENT), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.format, args.repeat)))
        return

    cases = QUICK_CASES if args.quick else tuple(CASES)
    runs = [(case, output_format) for case in cases for output_format in ("pdf", "html")]
    if args.compare:
        runs.append(("19 students, 2,800 events", SINGLE_DOCUMENT))
    header = f"{'case':<27} {'format':<10} {'seconds':>8} {'ms/event':>9} {'peak MB':>8} {'base MB':>8} {'output KB':>10}"
    print(header)
    print("-" * len(header))
    pdf_seconds = {}
    for case, output_format in runs:
        result = measure(case, output_format, args.repeat)
        if output_format == "pdf":
            pdf_seconds[case] = result["seconds"]
        print(f"{case:<27} {output_format:<10} {result['seconds']:>8.2f} "
              f"{1000 * result['seconds'] / result['events']:>9.2f} {result['peak_mb']:>8.0f} "
              f"{result['base_mb']:>8.0f} {result['bytes'] / 1024:>10.0f}", flush=True)
    baseline = pdf_seconds.get("1 student, 1,000 events")
    if baseline:
        growth = ", ".join(
            f"{CASES[case][1] // 1000}k = {seconds / baseline:.1f}×"
            for case, seconds in pdf_seconds.items() if CASES[case][0] == 1
        )
        print(f"\nPDF time relative to 1,000 events: {growth}")


if __name__ == "__main__":
    main()
