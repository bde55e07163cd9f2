"""The PDF against the peer in CPU seconds, two trees alternating: ``report_bench.py`` for a shared machine.

    .venv/bin/python bench/report_cpu_bench.py BEFORE_TREE AFTER_TREE [--case sample|200x100] [--rounds N] [--repeat N]
    mkdir /tmp/main && git archive main | tar -x -C /tmp/main && .venv/bin/python bench/report_cpu_bench.py /tmp/main .

``report_bench.py`` times wall-clock seconds, which on a machine other test runs share (a load
average of 5 to 9 on 2 cores) moved the peer alone from 3 s to 10 s between runs of the same case.
Here each round runs, per tree, a fresh interpreter that warms both sides up (and freezes the warm
heap out of the collector, as ``report_bench.py`` does) and keeps the fastest of ``--repeat``
renders in CPU seconds of the process (``time.process_time``), ours
(``render_document("pdf", json_text)``) and the peer's (``bench/peer_reportlab.py``) alike; the
trees alternate round by round. Printed: per tree the fastest of all rounds, ours, the peer's and
their ratio, and each round's ratio. Data: ``bench/synthetic.py``'s ``sample_shape`` as in
``report_bench.py``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CASES = {"sample": (19, None), "200x100": (200, 100)}

CHILD = r"""
import gc, json, sys, time
root, bench, students, events, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
sys.path.insert(0, root)
sys.path.insert(0, bench)
from synthetic import sample_shape
from peer_reportlab import render_peer_pdf
from reportgen.render.documents import render_document, warm_up
text = json.dumps(sample_shape(students, int(events)) if events != "None" else sample_shape(students))
warm_up()
render_document("pdf", text)
render_peer_pdf(json.loads(text))
gc.freeze()  # as a worker does before it forks; both sides alike (report_bench.py)
def fastest(render):
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        render()
        best = min(best, time.process_time() - started)
    return best
print(json.dumps([fastest(lambda: render_document("pdf", text)), fastest(lambda: render_peer_pdf(json.loads(text)))]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2, type=Path)
    parser.add_argument("--case", choices=CASES, default="200x100")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    students, events = CASES[args.case]
    results: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            done = subprocess.run([sys.executable, "-c", CHILD, str(tree.resolve()), str(BENCH), str(students),
                                   str(events), str(args.repeat)], capture_output=True, text=True, cwd=tree)
            if done.returncode:
                raise SystemExit(f"{tree}: {done.stderr.strip()[-2000:]}")
            results[tree].append(tuple(json.loads(done.stdout.strip().splitlines()[-1])))
    for tree, rounds in results.items():
        ours, peer = min(r[0] for r in rounds), min(r[1] for r in rounds)
        each = ", ".join(f"{r[0] / r[1]:.2f}" for r in rounds)
        print(f"{args.case:8s} {tree}: ours {ours:.3f} s CPU, peer {peer:.3f} s CPU, ratio {ours / peer:.2f} "
              f"(rounds: {each})")


if __name__ == "__main__":
    main()
