"""What shaping Devanagari and Thai costs a PDF, in CPU seconds, two trees alternating.

    .venv/bin/python bench/shaping_bench.py BEFORE_TREE AFTER_TREE [--rounds N] [--repeat N]
    mkdir /tmp/main && git archive main | tar -x -C /tmp/main && .venv/bin/python bench/shaping_bench.py /tmp/main .

Two cases: ``latin``, ``bench/synthetic.py``'s ``sample_shape`` (19 students, nothing to shape),
and ``scripts``, the same students renamed in turn to an Arabic, Hebrew, Chinese, Hindi, Thai and
Latin name, their units renamed to Devanagari, Thai, Arabic and Chinese words (every table,
heading and timeline label in every script). Each round runs, per tree, a fresh interpreter
that renders each case once (warm-up) and keeps the fastest of ``--repeat`` renders in CPU
seconds of the process (``time.process_time``); the trees alternate round by round. Printed:
per tree and case the fastest of all rounds and each round's time.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
NAMES = ("محمد علي", "דוד כהן", "王小明", "प्रिया शर्मा", "क्षत्रिय", "สมชาย ใจดี", "กิตติ์", "Zoë Núñez")
UNITS = ("बीजगणित", "พีชคณิต", "الجبر", "函数入门")

CHILD = r"""
import json, sys, time
root, bench, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root)
sys.path.insert(0, bench)
from synthetic import sample_shape
from reportgen.render.documents import render_document
names, units = json.loads(sys.argv[4]), json.loads(sys.argv[5])
latin = sample_shape(19)
scripts = json.loads(json.dumps(latin))
for number, student in enumerate(scripts):
    student["student_id"] = f"{names[number % len(names)]} {number}"
    for event in student["events"]:
        event["unit"] = units[hash(event["unit"]) % len(units)] + " " + event["unit"]
result = {}
for case, students in (("latin", latin), ("scripts", scripts)):
    text = json.dumps(students)
    render_document("pdf", text)
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        render_document("pdf", text)
        best = min(best, time.process_time() - start)
    result[case] = best
print(json.dumps(result))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2, type=Path)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times: dict[Path, list[dict]] = {tree: [] for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            child = subprocess.run([sys.executable, "-c", CHILD, str(tree.resolve()), str(BENCH), str(args.repeat),
                                    json.dumps(NAMES), json.dumps(UNITS)],
                                   cwd=tree, env={"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"},
                                   capture_output=True, text=True, check=True)
            times[tree].append(json.loads(child.stdout.strip().splitlines()[-1]))
    for tree, rounds in times.items():
        for case in ("latin", "scripts"):
            each = ", ".join(f"{result[case]:.3f}" for result in rounds)
            print(f"{case:8} {tree}: {min(result[case] for result in rounds):.3f} s CPU (rounds: {each})")


if __name__ == "__main__":
    main()
