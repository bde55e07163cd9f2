"""Two trees' PDF costs side by side, alternating, for a change measured on a busy machine.

    .venv/bin/python bench/class_page_bench.py --root /tmp/before --root /tmp/after [--rounds 6]
    mkdir /tmp/before && git archive main | tar -x -C /tmp/before    # a tree to compare with

``report_bench.py`` times our side and the peer's in separate processes one after the other;
on a shared machine whose load swings between 2 and 9 that ratio moved by 3× from run to run.
Here each tree runs in a process of its own that stays up, the processes take turns for
``--rounds`` rounds, and each part keeps its least CPU time (``time.process_time``), so what
other processes do costs both trees alike and the minimum is what the code costs. Parts
(data from ``bench/synthetic.py``'s ``sample_shape``, the default PDF):

    sample        the sample (19 students), the whole PDF from the JSON text
    class page    the class page of 200 × 100 alone, as the assembly renders it
    chunk of 50   the second chunk of 200 × 100: 50 students' pages
    200x100       the whole 200 × 100 PDF from the JSON text
    html sample   the sample's HTML

Each tree must have the layout with ``reportgen/render/`` (from commit d950bb3 on).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PARTS = ("sample", "class page", "chunk of 50", "200x100", "html sample")


def child(root: str) -> None:
    """Render a part for each line read (its name), answer the CPU seconds it took."""
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, root)
    os.chdir(root)
    from synthetic import sample_shape

    from reportgen.domain.preparation import prepare
    from reportgen.domain.upload import parse_upload
    from reportgen.render import html_pdf
    from reportgen.render.documents import ReportContext, chunk_inputs, render_document, report_data, warm_up

    warm_up()
    sample, large = json.dumps(sample_shape()), sample_shape(200, 100)
    large_text = json.dumps(large)
    upload = parse_upload(large)
    prepared = prepare(upload.students, upload.options)
    context = ReportContext.of(prepared)
    chunks = chunk_inputs(prepared, "pdf")
    summary = report_data(context, [item for chunk in chunks for item in chunk], summary_only=True)
    second = report_data(context, chunks[1])
    parts = {
        "sample": lambda: render_document("pdf", sample),
        "class page": lambda: html_pdf.render_pdf(summary, overview=True, sections=()),
        "chunk of 50": lambda: html_pdf.render_pdf(second, overview=False, sections=second.students),
        "200x100": lambda: render_document("pdf", large_text),
        "html sample": lambda: render_document("html", sample),
    }
    for line in sys.stdin:
        start = time.process_time()
        parts[line.strip()]()
        print(time.process_time() - start, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", required=True, help="a tree to measure (give two)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    processes = [subprocess.Popen([sys.executable, __file__, "--root", root, "--child", root], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for root in args.root]
    best = {root: dict.fromkeys(PARTS, float("inf")) for root in args.root}
    for round_number in range(args.rounds + 1):  # the first round warms up and does not count
        for part in PARTS:
            for root, process in zip(args.root, processes):
                process.stdin.write(part + "\n")
                process.stdin.flush()
                seconds = float(process.stdout.readline())
                if round_number:
                    best[root][part] = min(best[root][part], seconds)
    for process in processes:
        process.stdin.close()
        process.wait()
    print(f"load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}; least CPU seconds of "
          f"{args.rounds} alternating rounds")
    print(f"{'part':<14}" + "".join(f"{Path(root).name:>14}" for root in args.root)
          + ("   ratio" if len(args.root) == 2 else ""))
    for part in PARTS:
        values = [best[root][part] for root in args.root]
        ratio = f"   {values[1] / values[0]:.3f}" if len(values) == 2 else ""
        print(f"{part:<14}" + "".join(f"{value:>14.3f}" for value in values) + ratio)


if __name__ == "__main__":
    main()
