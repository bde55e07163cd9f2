"""Our report against a peer reference (ReportLab, ``bench/peer_reportlab.py``), same run, same machine.

    .venv/bin/python bench/report_bench.py [--quick] [--repeat N] [--case NAME ...] [--target CASE=VALUE ...]
    mkdir /tmp/head && git archive HEAD | tar -x -C /tmp/head && .venv/bin/python bench/report_bench.py --root /tmp/head

Every (case, side) runs in a fresh interpreter, so its peak RSS (``resource.getrusage``) is its
own. That interpreter first warms up both sides (one small render of ours, with the case's
format and options, and one of the peer) and freezes what that loaded out of the garbage
collector (as a worker does before it forks; both sides alike), then renders ``--repeat`` times
and keeps the fastest.
Ours is ``documents.render_document(format, json_text[, options=...])``, parsing included; the
peer is ``render_peer_pdf(json.loads(json_text))``, parsing included too.

Cases (data from ``bench/synthetic.py``; "sample-like" means ``sample_shape``):

    sample       the public sample's shape: sample_shape(19) = 19 students, 2,793 events; default PDF
    200x100      sample-like, scaled: sample_shape(200, 100) = 200 students, 20,000 events; default PDF
    1k-log       sample_shape(1, 1000): one student, 1,000 events; ours WITH the event log appendix
    10k-log      sample_shape(1, 10000): the same with 10,000 events; with 1k-log, t(10k)/t(1k) of ours
    html-sample  our HTML of the sample (no peer)
    20MiB-pdf    sample-like students (147 events each) up to ~20 MiB of JSON; our default PDF,
                 peak RSS and time (no peer; minutes today); skipped by --quick

Every output is checked: a PDF must start with ``%PDF`` and open with pypdf (its pages are
counted), the HTML must be an HTML document; anything else stops the benchmark (exit status 1).
A missed target is only reported. The machine, library versions and date are printed first,
for pasting into BENCHMARKS.md.

``--root DIR`` measures the reportgen (package, templates, static files) of another tree, e.g. a
``git archive`` of a commit, with this directory's benchmark, peer and data; the default is this
checkout, uncommitted changes included (the header says how many files differ from HEAD).
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
TARGET_BYTES = 20 * 1024 * 1024
BIG_EVENTS_PER_STUDENT = 147

#: name → (format, our options, has a peer, description)
CASES = {
    "sample": ("pdf", None, True, "sample_shape(19), default PDF"),
    "200x100": ("pdf", None, True, "sample_shape(200, 100), default PDF"),
    "1k-log": ("pdf", {"event_log": True}, True, "sample_shape(1, 1000), PDF with the event log"),
    "10k-log": ("pdf", {"event_log": True}, True, "sample_shape(1, 10000), PDF with the event log"),
    "html-sample": ("html", None, False, "sample_shape(19), our HTML"),
    "20MiB-pdf": ("pdf", None, False, f"sample_shape(N, {BIG_EVENTS_PER_STUDENT}) grown to ~20 MiB, default PDF"),
}
QUICK_SKIPS = ("20MiB-pdf",)

#: case → (what is compared, limit): "ratio" is ours/peer time, "seconds" ours' time,
#: "MiB" ours' peak RSS, "linearity" ours t(10k-log)/t(1k-log). None: no target given yet
#: (set one with --target CASE=VALUE; ratio targets come from the issue).
TARGETS: dict[str, tuple[str, float | None]] = {
    "sample": ("ratio", 1.0),
    "200x100": ("ratio", 1.0),
    "1k-log": ("ratio", None),
    "10k-log": ("ratio", 1.0),
    "html-sample": ("seconds", 0.1),
    "20MiB-pdf": ("MiB", 400.0),
    "10k/1k": ("linearity", 11.0),
}


# --------------------------------------------------------------------------- in the child

def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def case_data(case: str) -> list[dict]:
    """The case's submission (made by the parent, so the children's RSS holds only its text)."""
    sys.path.insert(0, str(BENCH))
    from synthetic import sample_shape

    if case in ("sample", "html-sample"):
        return sample_shape(19)
    if case == "200x100":
        return sample_shape(200, 100)
    if case == "1k-log":
        return sample_shape(1, 1_000)
    if case == "10k-log":
        return sample_shape(1, 10_000)
    if case == "20MiB-pdf":
        probe = len(json.dumps(sample_shape(100, BIG_EVENTS_PER_STUDENT)).encode())
        return sample_shape(round(100 * TARGET_BYTES / probe), BIG_EVENTS_PER_STUDENT)
    raise ValueError(case)


def check_output(output: bytes, output_format: str, what: str) -> int | None:
    """Stop unless ``output`` is a well-formed document; the page count of a PDF."""
    if output_format == "html":
        head = output[:512].lstrip().lower()
        if not (head.startswith(b"<!doctype html") or head.startswith(b"<html")):
            raise SystemExit(f"{what}: the output is not an HTML document: {output[:80]!r}")
        return None
    if not output.startswith(b"%PDF"):
        raise SystemExit(f"{what}: the output does not start with %PDF: {output[:80]!r}")
    from pypdf import PdfReader

    try:
        pages = len(PdfReader(io.BytesIO(output), strict=True).pages)
    except Exception as exc:  # noqa: BLE001 — any failure to open is the finding
        raise SystemExit(f"{what}: pypdf cannot open the PDF: {exc!r}") from None
    if pages < 1:
        raise SystemExit(f"{what}: the PDF has no pages")
    return pages


def ours_renderer(root: Path, output_format: str, options: dict | None, notes: list[str]):
    """``text → bytes`` for our side. Until ``render_document`` takes ``options=`` (a
    TypeError about it), it renders without them and says so in ``notes``."""
    sys.path.insert(0, str(root))
    try:
        from reportgen.render.documents import render_document
    except ImportError:  # a tree from before the render/ package (``--root`` of an older commit)
        from reportgen.documents import render_document

    if Path(sys.modules["reportgen"].__file__).resolve().parent != (root / "reportgen").resolve():
        raise SystemExit(f"imported reportgen from {sys.modules['reportgen'].__file__}, not from {root}")

    def render(text: str) -> bytes:
        if options is None:
            return render_document(output_format, text)
        try:
            return render_document(output_format, text, options=options)
        except TypeError as exc:
            if "options" not in str(exc):
                raise
            note = f"render_document does not take options= yet ({exc}); rendered without {options}"
            if note not in notes:
                notes.append(note)
            return render_document(output_format, text)

    return render


def run_child(root: Path, case: str, side: str, repeat: int, input_path: Path) -> dict:
    sys.path.insert(0, str(BENCH))
    from peer_reportlab import render_peer_pdf
    from synthetic import sample_shape

    output_format, options, _, _ = CASES[case]
    notes: list[str] = []
    ours = ours_renderer(root, output_format, options, notes)
    # Warm-up, both sides, whichever is measured: imports, fonts, templates.
    small = json.dumps(sample_shape(2, 20, seed=1))
    check_output(ours(small), output_format, "warm-up (ours)")
    check_output(render_peer_pdf(json.loads(small)), "pdf", "warm-up (peer)")
    text = input_path.read_text(encoding="utf-8")
    # What the warm-up loaded is frozen out of the garbage collector, as a worker freezes its own
    # before it forks (reportgen.pipeline.worker.prepare_horses), for both sides alike: a full
    # collection in the middle of a render would otherwise walk every font and template again.
    gc.freeze()
    render = ours if side == "ours" else (lambda text: render_peer_pdf(json.loads(text)))
    base = peak_rss_mib()
    best = float("inf")
    output = b""
    for _ in range(repeat):
        output = b""  # let the previous output go before the next render
        started = time.perf_counter()
        output = render(text)
        best = min(best, time.perf_counter() - started)
    peak = peak_rss_mib()  # before the check, which reads the whole PDF again
    pages = check_output(output, output_format if side == "ours" else "pdf", f"{case} ({side})")
    return {"seconds": best, "peak_mib": peak, "base_mib": base, "bytes": len(output), "pages": pages,
            "notes": notes}


# --------------------------------------------------------------------------- in the parent

def write_input(case: str, directory: Path) -> tuple[Path, str]:
    """The case's submission as a JSON file, and what it holds."""
    data = case_data(case)
    text = json.dumps(data)
    path = directory / f"{case}.json"
    path.write_text(text, encoding="utf-8")
    events = sum(len(student["events"]) for student in data)
    students = f"{len(data):,} student{'s' if len(data) != 1 else ''}"
    return path, f"{students}, {events:,} events, {len(text.encode()) / 2**20:.1f} MiB of JSON"


def measure(root: Path, case: str, side: str, repeat: int, input_path: Path) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case, side,
               "--repeat", str(repeat), "--root", str(root), "--input", str(input_path)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=root)
    if completed.returncode:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"case {case!r} ({side}) failed with exit status {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def code_under_test(root: Path) -> str:
    def git(*arguments: str) -> str:
        return subprocess.run(["git", "-C", str(root), *arguments], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            raise subprocess.CalledProcessError(1, "git")
        head = git("log", "-1", "--format=%h %s")
        changed = [line for line in git("status", "--porcelain", "--", "reportgen", "templates", "static")
                   .splitlines() if line.strip()]
    except (OSError, subprocess.CalledProcessError):
        return f"Code: {root} (not a git checkout)"
    state = f"{len(changed)} uncommitted change(s) under reportgen/ templates/ static/" if changed else "clean"
    return f"Code: {root} at {head} ({state})"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"Machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, "
            f"Linux {platform.release()}, CPython {platform.python_version()}\n"
            f"Libraries: xhtml2pdf {package_version('xhtml2pdf')}, reportlab {package_version('reportlab')}, "
            f"pypdf {package_version('pypdf')}\n"
            f"Date: {date.today().isoformat()}, load average {load}")


def number(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def verdict(kind: str, limit: float | None, value: float | None) -> tuple[str, str]:
    """(target text, pass/fail text)."""
    unit = {"ratio": "×", "seconds": " s", "MiB": " MiB", "linearity": "×"}[kind]
    if limit is None:
        return f"{kind} (none)", "—"
    target = f"≤ {limit:g}{unit}"
    if value is None:
        return target, "—"
    return target, "pass" if value <= limit else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the ~20 MiB upload (it takes minutes)")
    parser.add_argument("--repeat", type=int, default=3, help="renders per side and case; the fastest counts")
    parser.add_argument("--case", action="append", choices=CASES, help="run only this case (repeatable)")
    parser.add_argument("--target", action="append", default=[], metavar="CASE=VALUE",
                        help="set or override a target, e.g. sample=1.5 (a ratio) or 10k/1k=11")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the tree whose reportgen/, templates/ and static/ are measured (default: this one)")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.root.resolve()
    if args.child:
        print(json.dumps(run_child(root, args.child[0], args.child[1], args.repeat, args.input)))
        return
    for item in args.target:
        name, _, value = item.partition("=")
        if name not in TARGETS:
            parser.error(f"--target: unknown case {name!r}")
        TARGETS[name] = (TARGETS[name][0], float(value))

    cases = args.case or [case for case in CASES if not (args.quick and case in QUICK_SKIPS)]
    print(machine())
    print(code_under_test(root))
    print(f"Best of {args.repeat}; each case and side in its own process, both sides warmed up first.\n")
    header = (f"{'case':<12} {'ours s':>8} {'peer s':>8} {'ratio':>7} {'target':>18} {'result':>6} "
              f"{'ours MiB':>9} {'peer MiB':>9} {'ours KB':>8} {'peer KB':>8} {'pages':>11}")
    print(header)
    print("-" * len(header))
    ours_seconds: dict[str, float] = {}
    notes: list[str] = []
    failures = 0
    inputs: dict[str, str] = {}
    scratch = tempfile.TemporaryDirectory(prefix="report_bench-")
    for case in cases:
        output_format, _, has_peer, _ = CASES[case]
        input_path, inputs[case] = write_input(case, Path(scratch.name))
        ours = measure(root, case, "ours", args.repeat, input_path)
        peer = measure(root, case, "peer", args.repeat, input_path) if has_peer else None
        input_path.unlink()
        ours_seconds[case] = ours["seconds"]
        notes += [note for note in ours["notes"] if note not in notes]
        ratio = ours["seconds"] / peer["seconds"] if peer else None
        kind, limit = TARGETS[case]
        value = {"ratio": ratio, "seconds": ours["seconds"], "MiB": ours["peak_mib"]}[kind]
        target, result = verdict(kind, limit, value)
        failures += result == "FAIL"
        pages = f"{ours['pages'] or '—'}/{peer['pages']}" if peer else f"{ours['pages'] or '—'}"
        print(f"{case:<12} {ours['seconds']:>8.2f} {number(peer and peer['seconds'], '.2f'):>8} "
              f"{number(ratio, '.2f'):>7} {target:>18} {result:>6} "
              f"{ours['peak_mib']:>9.0f} {number(peer and peer['peak_mib'], '.0f'):>9} "
              f"{ours['bytes'] / 1024:>8.0f} {number(peer and peer['bytes'] / 1024, '.0f'):>8} "
              f"{pages:>11}", flush=True)
        if case == "20MiB-pdf":
            notes.append(f"20MiB-pdf: RSS before rendering (imports, warm-up, the JSON text) "
                         f"{ours['base_mib']:.0f} MiB")
    scratch.cleanup()
    if "1k-log" in ours_seconds and "10k-log" in ours_seconds:
        growth = ours_seconds["10k-log"] / ours_seconds["1k-log"]
        target, result = verdict(*TARGETS["10k/1k"], growth)
        failures += result == "FAIL"
        print(f"{'10k/1k':<12} {'':>8} {'':>8} {growth:>7.2f} {target:>18} {result:>6}   (ours, t(10k-log)/t(1k-log))")
    print("\nCases:")
    for case in cases:
        print(f"  {case:<12} {CASES[case][3]} ({inputs[case]})")
    print("  ratio = ours s / peer s; pages = ours/peer; MiB = peak RSS of that side's process "
          "(imports and warm-up of both sides included)")
    for note in notes:
        print(f"Note: {note}")
    if failures:
        print(f"\n{failures} target(s) missed")


if __name__ == "__main__":
    main()
