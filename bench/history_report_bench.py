"""A one-month PDF report out of a year of a class's history, against uploading the same month, on
the real ``make run`` stack.

    .venv/bin/python bench/history_report_bench.py                      # SQLite, as make run
    .venv/bin/python bench/history_report_bench.py --period-first       # the period report timed first
    .venv/bin/python bench/history_report_bench.py --database pgserver  # an embedded PostgreSQL

Starts the stack of ``make run`` (:class:`stack.DevStack`: gunicorn, ``--workers`` report workers,
embedded Redis, SQLite unless ``--database pgserver``) in a scratch directory, appends ``--months``
seeded months of ``--students`` × ``--events`` (``history_bench``'s months, one request of about
16 MiB each, under the 20 MiB limit) to ``/namespaces/bench/events`` over HTTP, then times, one
after the other, from the POST until the status says SUCCESS (the report is downloadable), and the
download:

* ``upload`` (the reference): the month's students and events as an ordinary
  ``POST /assignment/pdf``, with the month as the window and ``bench`` as their namespace;
* ``period``: ``POST /assignment/pdf`` with ``{"namespace": "bench", "period": "2024-07"}``, the
  report made from the stored history (2.4 M events by default).

Each prints the time to the POST's 202, to SUCCESS and to the downloaded PDF (checked: ``%PDF``,
its pages counted with ``pdfinfo``); the CPU seconds each role used meanwhile (web, worker, and
PostgreSQL's server with pgserver); the peak RSS of the largest single web and worker process
(sampled every 0.25 s, as ``cohort_bench`` reports the largest process); the assembly's own time
(its wall time, from the worker's log line); the floor an idle machine would give (the time to the
202, plus the chunks' worker CPU spread over the workers, plus the assembly, which runs in one
process; on a busy machine the assembly's wall time is longer than its CPU, so the floor leans a
little high there and a little low on the chunks); and how much CPU the machine spent outside
the stack meanwhile, with the load average: the machine is shared.

Then the sanity check: both PDFs have the same students and the same number of pages, and the
JSON metadata the same sequences, students' metrics and class figures (but each student's change
from the previous period, which only the period report has).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from burst_bench import client_cpu, machine_busy  # noqa: E402
from history_bench import compact, embedded_postgresql, load, month_students  # noqa: E402
from stack import DevStack, role  # noqa: E402

from reportgen.domain.periods import parse_period  # noqa: E402

NAMESPACE = "bench"


def request(url: str, data: bytes | None = None, accept: str = "application/json",
            timeout: float = 600) -> tuple[int, bytes]:
    headers = {"Accept": accept}
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Peaks:
    """The largest single process's RSS per role of the stack, sampled in a thread."""

    def __init__(self, stack: DevStack, every: float = 0.25):
        self.stack, self.every = stack, every
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, cmdline in self.stack.processes():
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                name = role(cmdline)
                self.peaks[name] = max(self.peaks.get(name, 0), rss)
            self._stop.wait(self.every)

    def __enter__(self) -> "Peaks":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def mib(self, name: str) -> str:
        return f"{self.peaks.get(name, 0) / 2**20:.0f} MiB"


def postgres_cpu(directory: str | None) -> float:
    """CPU seconds of the embedded PostgreSQL whose data lies under ``directory`` (its postmaster,
    its live backends and the ones it has reaped), or 0 without one."""
    if directory is None:
        return 0.0
    for process in psutil.process_iter(["cmdline"]):
        if any(directory in part for part in process.info["cmdline"] or ()) and "postgres" in " ".join(
                process.info["cmdline"]):
            try:
                members = [process, *process.children(recursive=True)]
                return sum(sum(member.cpu_times()[:4]) for member in members)
            except psutil.Error:
                return 0.0
    return 0.0


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}


def pdf_pages(content: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(content)
        handle.flush()
        info = subprocess.run(["pdfinfo", handle.name], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def time_report(stack: DevStack, name: str, body: bytes, postgres: str | None = None) -> dict:
    """POST the body to ``/assignment/pdf``, poll its status until it ends, download and check the PDF."""
    cpu_before, machine_before, client_before = stack.cpu_seconds(), machine_busy(), client_cpu()
    cpu_before["postgresql"] = postgres_cpu(postgres)
    with Peaks(stack) as peaks:
        started = time.monotonic()
        status, reply = request(f"{stack.base}/assignment/pdf", body)
        accepted = time.monotonic() - started
        assert status == 202, f"{name}: {status} {reply[:500]!r}"
        status_url = json.loads(reply)["status_url"]
        while True:
            status, reply = request(status_url)
            metadata = json.loads(reply)
            if metadata.get("status") in ("SUCCESS", "FAILURE"):
                break
            time.sleep(0.2)
        done = time.monotonic() - started
        assert metadata["status"] == "SUCCESS", f"{name}: {metadata}"
        status, content = request(metadata["download_url"], accept="application/pdf")
        downloaded = time.monotonic() - started
    cpu_after = {**stack.cpu_seconds(), "postgresql": postgres_cpu(postgres)}
    cpu, machine = cpu_delta(cpu_before, cpu_after), machine_busy() - machine_before
    client = client_cpu() - client_before
    assert status == 200 and content.startswith(b"%PDF-"), f"{name}: download {status} {content[:100]!r}"
    summary = metadata.get("summary") or {}
    result = {"name": name, "accepted": accepted, "done": done, "downloaded": downloaded, "cpu": cpu,
              "web": peaks.mib("web"), "worker": peaks.mib("worker"), "size": len(content),
              "pages": pdf_pages(content), "students": len(metadata.get("students", [])),
              "succeeded": summary.get("succeeded"), "failed": summary.get("failed"), "load": load(),
              "assembly": assembly_seconds(stack, metadata["task_id"]), "figures": figures(metadata)}
    print(f"{name:<7} 202 in {accepted:5.2f} s, SUCCESS in {done:6.2f} s, downloaded in {downloaded:6.2f} s "
          f"({len(content) / 1e6:.1f} MB, {result['pages']:,} pages, {result['students']:,} students, "
          f"{result['failed']} failed)  {result['load']}", flush=True)
    print("        CPU s: " + ", ".join(f"{role_name} {seconds:.1f}" for role_name, seconds in sorted(cpu.items())
                                        if seconds >= 0.05)
          + f" (worker ÷ {stack_workers(stack)} = {cpu.get('worker', 0) / stack_workers(stack):.1f} s); "
          f"largest process: web {result['web']}, worker {result['worker']}", flush=True)
    workers = stack_workers(stack)
    chunks = cpu.get("worker", 0) - result["assembly"]
    floor = accepted + chunks / workers + result["assembly"]
    print(f"        the assembly (one process) {result['assembly']:.1f} s; floor on an idle machine = 202 + "
          f"(worker CPU − assembly) ÷ {workers} + assembly = {floor:.1f} s; "
          f"the machine was busy {machine:.1f} CPU s of {downloaded * (os.cpu_count() or 1):.1f}, of which "
          f"the bench client {client:.1f} and other processes {max(0.0, machine - sum(cpu.values()) - client):.1f}",
          flush=True)
    return result


def figures(metadata: dict) -> dict:
    """What the JSON metadata says of the students and the class, but for each student's change
    from the previous period (which only a period report has)."""
    students = []
    for entry in metadata["students"]:
        metrics = dict(entry["metrics"])
        if metrics.get("activity"):
            metrics["activity"] = {key: value for key, value in metrics["activity"].items() if key != "change"}
        students.append({**entry, "metrics": metrics})
    return {"sequences": metadata["sequences"], "students": students, "cohort": metadata["cohort"]}


def assembly_seconds(stack: DevStack, report_id: str) -> float:
    """The assembly's own time, from the line the worker logs when it has stored the document."""
    text = stack.log_path.read_text(errors="replace")
    found = re.search(rf"report {re.escape(report_id)} assembled: \d+ bytes in ([\d.]+) s", text)
    return float(found.group(1)) if found else 0.0


def stack_workers(stack: DevStack) -> int:
    return int(stack.extra_env["REPORTGEN_WORKERS"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--months", type=int, default=12, help="months of history, from 2024-01")
    parser.add_argument("--period", default="2024-07", help="the month reported (one of the history's)")
    parser.add_argument("--workers", type=int, default=2, help="REPORTGEN_WORKERS (make run: one per core)")
    parser.add_argument("--period-first", action="store_true", help="time the period report before the upload")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (its log, database)")
    parser.add_argument("--database", choices=["sqlite", "pgserver"], default="sqlite",
                        help="the stack's SQLite (make run's default) or an embedded PostgreSQL (pgserver)")
    args = parser.parse_args()

    months = [(2024 + m // 12, m % 12 + 1) for m in range(args.months)]
    year, month = (int(part) for part in args.period.split("-"))
    assert (year, month) in months, f"{args.period} is not one of the {args.months} months from 2024-01"
    window = parse_period(args.period, "UTC").window.to_dict()
    reported = month_students(year, month, args.students, args.events, seed=7)
    upload = compact({"students": [{**student, "namespace": NAMESPACE} for student in reported],
                      "options": {"window": window}})
    period = compact({"namespace": NAMESPACE, "period": args.period})
    assert len(upload) <= 20 * 2**20, f"the upload is {len(upload) / 2**20:.1f} MiB, over the 20 MiB limit"

    env = {"REPORTGEN_WORKERS": str(args.workers), "REPORTGEN_RATE_LIMIT": "", "REPORTGEN_SUBMIT_RATE_LIMIT": "",
           "REPORTGEN_API_TOKENS": "", "REPORTGEN_LOG_FORMAT": "text"}
    print(f"machine: {os.cpu_count()} cores; {' '.join(sys.argv)}")
    server, directory = None, tempfile.mkdtemp(prefix="history-report-bench-")
    if args.database == "pgserver":
        env["DATABASE_URL"], server = embedded_postgresql(directory)
    try:
        run(args, env, months, upload, period, directory if server is not None else None)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


def run(args, env: dict[str, str], months: list[tuple[int, int]], upload: bytes, period: bytes,
        postgres: str | None) -> None:
    with DevStack(env=env, keep=args.keep) as stack:
        ready = stack.wait_ready()
        print(f"stack up in {stack.started_in:.1f} s, {args.workers} workers, "
              f"{'PostgreSQL (pgserver)' if args.database == 'pgserver' else 'SQLite'}; ready: "
              f"{ready.get('status', ready)}  {load()}", flush=True)
        cpu_before, started, largest = stack.cpu_seconds(), time.monotonic(), 0
        cpu_before["postgresql"] = postgres_cpu(postgres)
        with Peaks(stack) as peaks:
            for y, m in months:
                body = compact(month_students(y, m, args.students, args.events, seed=7))
                largest = max(largest, len(body))
                assert len(body) <= 20 * 2**20
                posted = time.monotonic()
                status, reply = request(f"{stack.base}/namespaces/{NAMESPACE}/events", body)
                assert status == 200, f"append {y}-{m:02d}: {status} {reply[:500]!r}"
                print(f"  append {y}-{m:02d}: {time.monotonic() - posted:5.2f} s, "
                      f"added {json.loads(reply)['added']:,}  {load()}", flush=True)
        cpu = cpu_delta(cpu_before, {**stack.cpu_seconds(), "postgresql": postgres_cpu(postgres)})
        total = args.students * args.events * len(months)
        database_cpu = f", PostgreSQL {cpu['postgresql']:.1f} s" if postgres else ""
        print(f"history: {total:,} events in {len(months)} requests of at most {largest / 2**20:.1f} MiB, "
              f"{time.monotonic() - started:.1f} s (building the bodies included; web CPU {cpu.get('web', 0):.1f} s"
              f"{database_cpu}); "
              f"largest web process {peaks.mib('web')}  {load()}", flush=True)

        cases = [("upload", upload), ("period", period)]
        order = cases[::-1] if args.period_first else cases
        results = [time_report(stack, name, body, postgres) for name, body in order]
        by_name = {result["name"]: result for result in results}
        reference, measured = by_name["upload"], by_name["period"]
        same = (reference["students"], reference["pages"]) == (measured["students"], measured["pages"])
        equal = {name: reference["figures"][name] == measured["figures"][name] for name in reference["figures"]}
        print(f"period report, downloadable: {measured['done']:.2f} s (target ≤ 35 s) against the upload's "
              f"{reference['done']:.2f} s = {measured['done'] / reference['done']:.2f}×")
        print(f"sanity: students {measured['students']:,} / {reference['students']:,}, pages "
              f"{measured['pages']:,} / {reference['pages']:,}: {'the same' if same else 'DIFFERENT'}; "
              "in the JSON metadata, " + ", ".join(f"{name} {'the same' if alike else 'DIFFERENT'}"
                                                   for name, alike in equal.items())
              + " (each student's change from the previous period left out)")
        if not same or not all(equal.values()) or measured["failed"] or reference["failed"]:
            sys.exit("FAIL: the two reports differ in students, pages or figures, or a student failed")


if __name__ == "__main__":
    main()
