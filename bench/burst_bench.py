"""A burst of small reports on the `make run` stack: accept rate, time to first report, drain, fairness.

    .venv/bin/python bench/burst_bench.py                         # --case all --reports 1000
    .venv/bin/python bench/burst_bench.py --case burst --reports 300 --workers 2
    .venv/bin/python bench/burst_bench.py --case submit --duration 10

Starts ``python -m reportgen.serving.devstack`` (see bench/stack.py) in a scratch instance dir on a free
loopback port with the rate limits off, once per case, and prints numbers with the issue's target
and PASS/FAIL on each line (the exit status is 0 whatever the numbers; a crash or a wrong report is
printed loudly as CHECK FAILED).

burst   N single-student HTML reports (10 events each) POSTed from 8 keep-alive clients as fast as
        they go. Completion is read from the SQLite file, read-only, so watching costs the server
        nothing, and every time below is the database's own ``finished_at``.
submit  the submission path alone: REPORTGEN_WORKERS=0 (if the devstack honours it; else the
        worker renders meanwhile, and this says so), one small student POSTed for --duration
        seconds from 8 clients; then the same with wrk if it is installed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import re
import resource
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ROOT, DevStack  # noqa: E402
from synthetic import make_students  # noqa: E402

RATE_LIMITS_OFF = {"REPORTGEN_RATE_LIMIT": "", "REPORTGEN_SUBMIT_RATE_LIMIT": ""}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
DONE = ("SUCCESS", "FAILURE")
failures: list[str] = []


# -- small helpers --------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def line(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
    tail = f"   target {target:<12} {verdict(ok)}" if target else ""
    print(f"  {label:<46} {value:>16}{tail}", flush=True)


def check_failed(message: str) -> None:
    failures.append(message)
    print(f"\n  !!!!!!!! CHECK FAILED: {message}\n", flush=True)


def parse_time(text: str | None) -> float | None:
    """A database timestamp (UTC; SQLite keeps it without an offset) as epoch seconds."""
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def read_only(database: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)


def student(index: int, tag: str) -> dict:
    [entry] = make_students(1, 10, units=5, seed=index)
    entry["student_id"] = f"burst-{tag}-{index:05d}"
    return entry


class Client:
    """One keep-alive HTTP/1.1 connection to the stack; reconnects after an error."""

    def __init__(self, port: int, timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes, dict]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                reply = self.connection.getresponse()
                data = reply.read()
                if reply.will_close:
                    self.close()
                return reply.status, data, dict(reply.getheaders())
            except (OSError, http.client.HTTPException):
                self.close()
                # a kept-alive connection the server closed meanwhile: retry once on a fresh one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in sorted(set(before) | set(after))}


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all processes, not idle or iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def print_cpu(stack_cpu: dict[str, float], client_seconds: float, wall: float, machine: float) -> None:
    parts = [f"{name} {seconds:.1f}" for name, seconds in stack_cpu.items() if seconds >= 0.05]
    ours = sum(stack_cpu.values()) + client_seconds
    print(f"  CPU s over {wall:.1f} s wall: {', '.join(parts)}, bench client {client_seconds:.1f}; "
          f"other processes on the machine {max(0.0, machine - ours):.1f}; "
          f"machine busy {machine:.1f} of {wall * (os.cpu_count() or 1):.1f}", flush=True)


def job_times(stack: DevStack) -> dict[str, list[float]]:
    """Each RQ job's wall time (the worker's "<queue>: <description> (<id>)" line to its "Job OK"
    line, fork and bookkeeping included), by job description, from the devstack's log."""
    started: dict[str, tuple[str, float]] = {}
    spans: dict[str, list[float]] = {}
    try:
        lines = stack.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return spans
    for text in lines:
        if not text.startswith("{") or '"rq.worker"' not in text:
            continue
        try:
            entry = json.loads(text)
        except ValueError:
            continue
        message = entry.get("message", "")
        match = re.search(r": [^:]+: (.+) \(([^()]+)\)$", message)
        if not match:
            continue
        what, job_id = match.groups()
        at = datetime.fromisoformat(entry["time"]).timestamp()
        if what == "Job OK":
            if job_id in started:
                kind, began = started.pop(job_id)
                spans.setdefault(kind, []).append(at - began)
        else:
            started[job_id] = (what, at)
    return spans


# -- submitting -----------------------------------------------------------------------------------
def fire(port: int, bodies: list[bytes], threads: int) -> list[dict]:
    """POST every body once, in index order, from ``threads`` keep-alive clients."""
    results: list[dict] = [{} for _ in bodies]
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))

    def run() -> None:
        client = Client(port)
        while True:
            with lock:
                index = next(cursor, None)
                if index is None:
                    break
                sent_wall = time.time()
            started = time.perf_counter()
            try:
                status, data, _ = client.request("POST", "/assignment/html", bodies[index], JSON_HEADERS)
            except (OSError, http.client.HTTPException) as exc:
                status, data = 0, repr(exc).encode()
            results[index] = {"sent": sent_wall, "latency": time.perf_counter() - started, "status": status,
                              "answered": time.time(),
                              "task_id": json.loads(data)["task_id"] if status == 202 else None,
                              "error": None if status == 202 else data[:300].decode(errors="replace")}
        client.close()

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


# -- burst ----------------------------------------------------------------------------------------
def finished_count(database: Path) -> int:
    """Reports done (SUCCESS or FAILURE), read from the database file read-only."""
    connection = read_only(database)
    try:
        return connection.execute("SELECT count(*) FROM reports WHERE status IN ('SUCCESS', 'FAILURE')").fetchone()[0]
    finally:
        connection.close()


def watch(database: Path, expected: int, deadline: float, interval: float = 0.5) -> int:
    """Count finished reports until all ``expected`` are done (or the deadline); no HTTP involved."""
    last_print = time.monotonic()
    done = 0
    while time.monotonic() < deadline:
        try:
            done = finished_count(database)
        except sqlite3.Error as exc:
            print(f"  (poll: {exc})", flush=True)
        if done >= expected:
            return done
        if time.monotonic() - last_print >= 10:
            print(f"  … {done}/{expected} done", flush=True)
            last_print = time.monotonic()
        time.sleep(interval)
    return done


class _Html(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = 0

    def handle_starttag(self, tag, attrs):
        self.tags += 1


def check_documents(stack: DevStack, sample: list[tuple[str, str]]) -> int:
    """GET each report's HTML: 200, text/html, a whole HTML document naming its student."""
    client = Client(stack.port)
    good = 0
    for task_id, student_id in sample:
        status, data, headers = client.request("GET", f"/assignment/html/{task_id}", headers={"Accept": "text/html"})
        text = data.decode("utf-8", errors="replace")
        problems = []
        if status != 200:
            problems.append(f"status {status}")
        if not headers.get("Content-Type", "").startswith("text/html"):
            problems.append(f"Content-Type {headers.get('Content-Type')!r}")
        if not text.lstrip().lower().startswith("<!doctype html"):
            problems.append("no <!doctype html>")
        if "</html>" not in text.lower():
            problems.append("no </html>")
        if student_id not in text:
            problems.append(f"student id {student_id} absent")
        parser = _Html()
        try:
            parser.feed(text)
            parser.close()
        except Exception as exc:  # noqa: BLE001 - any parser error is the finding
            problems.append(f"HTML parser: {exc!r}")
        if parser.tags < 10:
            problems.append(f"only {parser.tags} tags")
        if problems:
            check_failed(f"report {task_id} ({student_id}): " + "; ".join(problems))
        else:
            good += 1
    client.close()
    return good


def case_burst(args) -> None:
    env = dict(RATE_LIMITS_OFF)
    if args.workers is not None:
        env["REPORTGEN_WORKERS"] = str(args.workers)
    n = args.reports
    print(f"\n== burst: {n} single-student HTML reports (10 events each), {args.threads} client threads ==",
          flush=True)
    with DevStack(env=env, keep=args.keep, root=args.code) as stack:
        ready = stack.wait_ready()
        if ready.get("status") != "ok":
            check_failed(f"the stack is not ready: {ready}; the devstack log ends:\n{stack.log_tail()}")
        workers = stack.count("worker")
        print(f"  stack up in {stack.started_in:.1f} s; worker processes: {workers}; "
              f"readyz: {ready.get('status', '?')}"
              + (f"; REPORTGEN_WORKERS={args.workers}" if args.workers is not None else ""), flush=True)
        if args.keep:
            print(f"  scratch dir: {stack.scratch}", flush=True)
        tag = uuid.uuid4().hex[:6]
        students = [student(i, tag) for i in range(n)]
        bodies = [json.dumps([s]).encode() for s in students]
        cpu_before, client_before, wall_before = stack.cpu_seconds(), client_cpu(), time.monotonic()
        machine_before = machine_busy()
        results = fire(stack.port, bodies, args.threads)
        submitted_in = time.monotonic() - wall_before
        accepted = [i for i, r in enumerate(results) if r["status"] == 202]
        rejected = [r for r in results if r["status"] != 202]
        first_sent = min(r["sent"] for r in results)
        last_answer = max(r["answered"] for r in results)
        latencies = [results[i]["latency"] for i in accepted]

        print("  submit", flush=True)
        line("accepted (202)", f"{len(accepted)}/{n}", "all", not rejected)
        if rejected:
            check_failed(f"{len(rejected)} submissions not accepted, e.g. {rejected[0]['status']} "
                         f"{rejected[0]['error']}")
        line("accept rate", f"{len(accepted) / (last_answer - first_sent):.0f} req/s")
        line("submit latency p50", f"{percentile(latencies, 50) * 1000:.1f} ms")
        line("submit latency p99", f"{percentile(latencies, 99) * 1000:.1f} ms")
        line("submit latency max", f"{max(latencies, default=math.nan) * 1000:.1f} ms")
        done_at_submit_end = finished_count(stack.database)
        print(f"  (the burst took {submitted_in:.2f} s to submit; {done_at_submit_end} reports were already "
              f"done by then)", flush=True)

        deadline = time.monotonic() + args.drain_timeout
        done = watch(stack.database, len(accepted), deadline)
        wall = time.monotonic() - wall_before
        cpu = cpu_delta(cpu_before, stack.cpu_seconds())
        client_seconds = client_cpu() - client_before
        machine = machine_busy() - machine_before
        if done < len(accepted):
            check_failed(f"only {done}/{len(accepted)} reports finished within --drain-timeout "
                         f"{args.drain_timeout:.0f} s (numbers below cover the finished ones)")

        with read_only(stack.database) as connection:
            rows = {row[0]: row[1:] for row in connection.execute(
                "SELECT id, status, created_at, started_at, assembly_queued_at, finished_at FROM reports")}
            items = {row[0]: row[1:] for row in connection.execute(
                "SELECT report_id, started_at, finished_at FROM report_items")}
        connection.close()

        # one record per accepted submission, in submit order (by the client's send time)
        order = sorted(accepted, key=lambda i: results[i]["sent"])
        record = []
        for i in order:
            task_id = results[i]["task_id"]
            status, created, started, assembly_queued, finished = rows.get(task_id, ("MISSING",) + (None,) * 4)
            item_started, item_finished = items.get(task_id, (None, None))
            record.append({"index": i, "task_id": task_id, "student_id": students[i]["student_id"],
                           "sent": results[i]["sent"], "status": status, "created": parse_time(created),
                           "started": parse_time(started), "assembly_queued": parse_time(assembly_queued),
                           "finished": parse_time(finished), "item_started": parse_time(item_started),
                           "item_finished": parse_time(item_finished)})
        statuses: dict[str, int] = {}
        for r in record:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        finished = [r for r in record if r["finished"] is not None]

        print("  drain", flush=True)
        line("reports SUCCESS", f"{statuses.get('SUCCESS', 0)}/{len(record)}", "all",
             statuses.get("SUCCESS", 0) == len(record) == n)
        if statuses.get("SUCCESS", 0) != len(record):
            check_failed(f"not every report ended SUCCESS: {statuses}")
        if record and record[0]["finished"] is not None:
            first = record[0]["finished"] - record[0]["sent"]
            line("first submitted: submit -> downloadable", f"{first:.2f} s", "<= 5 s", first <= 5)
        else:
            line("first submitted: submit -> downloadable", "never", "<= 5 s", False)
        if finished:
            span = max(r["finished"] for r in finished) - first_sent
            line("drain: N / (last finish - first submit)", f"{len(finished) / span:.1f} rep/s", ">= 30/s",
                 len(finished) / span >= 30 and len(finished) == n)
            line("drain time (first submit -> last finish)", f"{span:.1f} s")
            if len(record) >= 100 and record[99]["finished"] is not None:
                share = (record[99]["finished"] - first_sent) / span
                line("100th submitted finished at", f"{share * 100:.1f} % of drain", "< 30 %", share < 0.30)
            else:
                line("100th submitted finished at", "n/a", "< 30 %", False)
            in_order = sum(a["finished"] <= b["finished"] for a, b in zip(finished, finished[1:]))
            pairs = max(1, len(finished) - 1)
            line("adjacent pairs finishing in submit order", f"{in_order / pairs * 100:.1f} %")
            line("Spearman rho (submit vs finish order)", f"{spearman([r['finished'] for r in finished]):.3f}")
            latency = [r["finished"] - r["sent"] for r in finished]
            line("submit -> finished p50", f"{percentile(latency, 50):.2f} s")
            line("submit -> finished p90", f"{percentile(latency, 90):.2f} s")
            line("submit -> finished max", f"{max(latency):.2f} s")
            deciles = [percentile([r["finished"] - first_sent for r in finished[k * len(finished) // 10:
                                                                              (k + 1) * len(finished) // 10]], 50)
                       for k in range(10)]
            print("  median finish (s after first submit) per tenth of the burst, in submit order:\n    "
                  + " ".join(f"{d:.1f}" for d in deciles), flush=True)

            print("  where the time goes (medians over reports)", flush=True)
            stages = [("submitted -> row created (web)", "sent", "created"),
                      ("row created -> chunk job started", "created", "started"),
                      ("chunk started -> student claimed", "started", "item_started"),
                      ("student rendered (claim -> stored)", "item_started", "item_finished"),
                      ("student stored -> assembly queued", "item_finished", "assembly_queued"),
                      ("assembly queued -> report SUCCESS", "assembly_queued", "finished")]
            for label, start, end in stages:
                spans = [r[end] - r[start] for r in finished if r[start] is not None and r[end] is not None]
                line(label, f"{percentile(spans, 50) * 1000:.0f} ms")
            first_start = min((r["started"] for r in finished if r["started"] is not None), default=None)
            if first_start is not None:
                busy = max(r["finished"] for r in finished) - first_start
                line("workers' rate (first job start -> last finish)", f"{len(finished) / busy:.1f} rep/s")
        jobs = job_times(stack)
        if finished:
            total = sum(len(v) for v in jobs.values())
            line("RQ jobs completed (worker log)", f"{total}  ({total / len(finished):.2f}/report)")
            for kind, spans in sorted(jobs.items()):
                line(f"  '{kind}' job, start -> OK, p50 / p90",
                     f"{percentile(spans, 50) * 1000:.0f} / {percentile(spans, 90) * 1000:.0f} ms")
            print_cpu(cpu, client_seconds, wall, machine)
            if cpu.get("worker"):
                line("worker CPU per report", f"{cpu['worker'] / len(finished) * 1000:.0f} ms")

        step = max(1, len(record) // args.sample) if record else 1
        sample = [(r["task_id"], r["student_id"]) for r in record[::step]][:args.sample]
        if record and (record[-1]["task_id"], record[-1]["student_id"]) not in sample:
            sample[-1] = (record[-1]["task_id"], record[-1]["student_id"])
        good = check_documents(stack, sample) if sample else 0
        line("sampled HTML documents valid, naming student", f"{good}/{len(sample)}", "all",
             good == len(sample) > 0)
    if not stack.clean_stop:
        print("  (the devstack did not stop cleanly; see above)", flush=True)


def spearman(values: list[float]) -> float:
    """Rank correlation of ``values`` (in submit order) with their position; ties get mean ranks."""
    n = len(values)
    if n < 2:
        return math.nan
    order = sorted(range(n), key=lambda i: values[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    mean = (n - 1) / 2
    cov = sum((k - mean) * (ranks[k] - mean) for k in range(n))
    var_x = sum((k - mean) ** 2 for k in range(n))
    var_y = sum((r - mean) ** 2 for r in ranks)
    return cov / math.sqrt(var_x * var_y) if var_y else math.nan


# -- submit ---------------------------------------------------------------------------------------
def hammer(port: int, body: bytes, threads: int, seconds: float) -> tuple[list[float], dict[int, int], float]:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def run(slot: int) -> None:
        client = Client(port)
        mine: dict[int, int] = {}
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                status, _, _ = client.request("POST", "/assignment/html", body, JSON_HEADERS)
            except (OSError, http.client.HTTPException):
                status = 0
            latencies[slot].append(time.perf_counter() - started)
            mine[status] = mine.get(status, 0) + 1
        client.close()
        with lock:
            for status, count in mine.items():
                statuses[status] = statuses.get(status, 0) + count

    began = time.perf_counter()
    workers = [threading.Thread(target=run, args=(slot,), daemon=True) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [x for slot in latencies for x in slot], statuses, time.perf_counter() - began


WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  io.write(string.format("wrk: %%d requests, %%d non-2xx/3xx, p50 %%.1f ms, p99 %%.1f ms\\n",
    summary.requests, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def case_submit(args) -> None:
    env = dict(RATE_LIMITS_OFF, REPORTGEN_WORKERS="0")
    print(f"\n== submit: one small student POSTed for {args.duration:.0f} s from {args.threads} client threads, "
          "REPORTGEN_WORKERS=0 ==", flush=True)
    with DevStack(env=env, keep=args.keep, root=args.code) as stack:
        time.sleep(2)  # let a worker, if one was started anyway, register
        workers = stack.count("worker")
        print(f"  stack up in {stack.started_in:.1f} s; worker processes: {workers}"
              + ("  (REPORTGEN_WORKERS=0 NOT honoured by this devstack: the worker renders the submissions "
                 "while they are measured)" if workers else "  (workers idle: none running)"), flush=True)
        body = json.dumps([student(0, "submit")]).encode()
        warm, _, _ = hammer(stack.port, body, args.threads, 1.0)  # warm up both gunicorn workers
        cpu_before, client_before, machine_before = stack.cpu_seconds(), client_cpu(), machine_busy()
        latencies, statuses, wall = hammer(stack.port, body, args.threads, args.duration)
        cpu = cpu_delta(cpu_before, stack.cpu_seconds())
        machine = machine_busy() - machine_before
        ok = statuses.get(202, 0)
        print("  python client (http.client keep-alive)", flush=True)
        line("requests (202 / all)", f"{ok}/{sum(statuses.values())}", "all 202", ok == sum(statuses.values()))
        if ok != sum(statuses.values()):
            check_failed(f"submissions not accepted: {statuses}")
        line("throughput", f"{ok / wall:.0f} req/s", ">= 500/s", ok / wall >= 500)
        line("latency p50", f"{percentile(latencies, 50) * 1000:.1f} ms")
        line("latency p99", f"{percentile(latencies, 99) * 1000:.1f} ms", "<= 50 ms",
             percentile(latencies, 99) <= 0.050)
        print_cpu(cpu, client_cpu() - client_before, wall, machine)

        wrk = subprocess.run(["which", "wrk"], capture_output=True, text=True).stdout.strip()
        if not wrk:
            print("  wrk: not installed (apt-get install -y wrk), skipped", flush=True)
            return
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT % body.decode())
        try:
            command = [wrk, "-t2", f"-c{args.threads}", f"-d{int(args.duration)}s", "--latency", "-s",
                       script.name, f"{stack.base}/assignment/html"]
            print(f"  $ {shlex.join(command)}", flush=True)
            cpu_before, machine_before = stack.cpu_seconds(), machine_busy()
            began = time.monotonic()
            try:
                run = subprocess.run(command, capture_output=True, text=True, timeout=args.duration + 60)
                output = run.stdout + run.stderr
            except subprocess.TimeoutExpired:
                output = "wrk timed out"
            wall = time.monotonic() - began
            cpu = cpu_delta(cpu_before, stack.cpu_seconds())
            machine = machine_busy() - machine_before
            print("    " + output.rstrip().replace("\n", "\n    "), flush=True)
            rate = next((float(part.split()[1]) for part in output.splitlines()
                         if part.startswith("Requests/sec:")), math.nan)
            p99 = next((part.split()[1] for part in output.splitlines() if part.strip().startswith("99%")), "?")
            line("wrk throughput", f"{rate:.0f} req/s", ">= 500/s", rate >= 500)
            line("wrk latency p99", p99, "<= 50 ms", _ms(p99) <= 50)
            print_cpu(cpu, 0.0, wall, machine)  # wrk's own CPU counts as "other"
        finally:
            os.unlink(script.name)


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * factor
            except ValueError:
                return math.inf
    return math.inf


# -- main -----------------------------------------------------------------------------------------
def header(code: Path) -> None:
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), platform.processor() or "?")
    commit = subprocess.run(["git", "-C", str(code), "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip() if (code / ".git").exists() else ""
    print(f"date:    {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {model}; "
          f"{platform.system()} {platform.release()}")
    print(f"python:  {platform.python_version()} ({sys.executable})")
    print(f"code:    {code} ({'git ' + commit if commit else 'not a git checkout'})")
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) before starting", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["burst", "submit", "all"], default="all")
    parser.add_argument("--reports", type=int, default=1000, help="reports in the burst (default 1000)")
    parser.add_argument("--workers", type=int, default=None,
                        help="REPORTGEN_WORKERS for the burst's devstack (default: unset)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--duration", type=float, default=10, help="seconds of the submit case (default 10)")
    parser.add_argument("--drain-timeout", type=float, default=900,
                        help="give up waiting for the burst's reports after this many seconds (default 900)")
    parser.add_argument("--sample", type=int, default=20, help="reports whose HTML is downloaded and checked")
    parser.add_argument("--code", type=lambda text: Path(text).resolve(), default=ROOT,
                        help="the source tree to run the stack from (default: this checkout), e.g. an "
                             "export of another commit: git archive <rev> | tar -x -C DIR")
    parser.add_argument("--keep", action="store_true", help="keep the scratch instance dir(s)")
    args = parser.parse_args()

    def terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)  # so a killed run still stops its stack (finally blocks)
    header(args.code)
    began = time.monotonic()
    try:
        if args.case in ("submit", "all"):
            case_submit(args)
        if args.case in ("burst", "all"):
            case_burst(args)
    except Exception as exc:  # noqa: BLE001 - a crashed benchmark says so, loudly, after its stack stopped
        check_failed(f"the benchmark crashed: {exc!r}")
        raise
    finally:
        print(f"\nload:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) at the end; "
              f"total {time.monotonic() - began:.0f} s", flush=True)
        if failures:
            print(f"!!!!!!!! {len(failures)} CHECK(S) FAILED:\n  " + "\n  ".join(failures), flush=True)


if __name__ == "__main__":
    main()
