"""The `make run` stack (``python -m reportgen.serving.devstack``) for benchmarks, in a scratch instance dir.

    with DevStack(env={"REPORTGEN_RATE_LIMIT": ""}) as stack:
        stack.base          # http://127.0.0.1:<free port>
        stack.database      # <scratch>/reportgen.sqlite3
        stack.cpu_seconds() # CPU used so far by the stack's processes, per role

The stack runs on a free loopback port with its own SQLite database and embedded Redis, so it never
touches your data. Every process it starts inherits ``REPORTGEN_INSTANCE_DIR=<scratch>``, which
makes them findable by that marker (the embedded Redis daemonizes away from the process tree).
Stopping sends SIGINT to the devstack's process group, as Ctrl-C would; whatever is still alive
after the grace period is killed by pid.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def role(cmdline: str) -> str:
    if "redis-server" in cmdline:
        return "redis"
    if "gunicorn" in cmdline:
        return "web"
    if "reportgen.serving.devstack" in cmdline or "reportgen.devstack" in cmdline:
        return "devstack"
    if " worker" in cmdline or "rq:" in cmdline:
        return "worker"
    return "other"



def devstack_module(root: Path) -> str:
    """``make run``'s module in the tree at ``root``: ``reportgen.devstack`` before the serving/ package."""
    return "reportgen.serving.devstack" if (root / "reportgen" / "serving" / "devstack.py").exists() else "reportgen.devstack"

class DevStack:
    def __init__(self, env: dict[str, str] | None = None, keep: bool = False, start_timeout: float = 90,
                 root: Path = ROOT):
        self.root = Path(root)
        self.extra_env = dict(env or {})
        self.keep = keep
        self.start_timeout = start_timeout
        self.scratch: Path | None = None
        self.process: subprocess.Popen | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.started_in = 0.0
        self.clean_stop: bool | None = None
        self.redis_pid: int | None = None

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> "DevStack":
        self.scratch = Path(tempfile.mkdtemp(prefix="reportgen-bench-"))
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(PORT=str(self.port), HOST="127.0.0.1", REPORTGEN_INSTANCE_DIR=str(self.scratch))
        env.update(self.extra_env)
        launched = time.monotonic()
        self.log = open(self.scratch / "devstack.log", "wb")
        self.process = subprocess.Popen([sys.executable, "-m", devstack_module(self.root)], cwd=self.root, env=env,
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = launched + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the devstack exited with {self.process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not come up in {self.start_timeout:.0f} s; see {self.log_path}")
            try:
                if get(f"{self.base}/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        self.started_in = time.monotonic() - launched
        return self

    def wait_ready(self, timeout: float = 60) -> dict:
        """Wait for ``/readyz`` (database, Redis, a live worker); returns its last JSON answer."""
        deadline = time.monotonic() + timeout
        body: dict = {}
        while time.monotonic() < deadline:
            try:
                status, raw = get(f"{self.base}/readyz", timeout=5)
                body = json.loads(raw or b"{}")
                if status == 200:
                    return body
            except (OSError, ValueError):
                pass
            time.sleep(0.25)
        return body

    def stop(self, grace: float = 30) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        leftovers = self.processes()
        deadline = time.monotonic() + 5
        while leftovers and time.monotonic() < deadline:  # Redis may take a moment after SIGTERM
            time.sleep(0.2)
            leftovers = self.processes()
        self.clean_stop = not leftovers and self.process.returncode == 0
        for pid, _ in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if leftovers:
            print(f"stack: killed {len(leftovers)} leftover process(es): "
                  + ", ".join(f"{pid} {cmd[:60]}" for pid, cmd in leftovers), file=sys.stderr)
        self.log.close()
        if not self.keep and self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> "DevStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc) -> None:
        self.stop()

    # -- inspection -------------------------------------------------------------------------------
    @property
    def database(self) -> Path:
        return self.scratch / "reportgen.sqlite3"

    @property
    def log_path(self) -> Path:
        return self.scratch / "devstack.log"

    def _embedded_redis(self) -> int | None:
        """The embedded Redis's pid, from the pidfile next to the socket the devstack announced
        (redis-server rewrites its process title over its environment, so the marker is lost)."""
        if self.redis_pid is None:
            try:
                text = self.log_path.read_text(errors="replace")
            except OSError:
                return None
            match = re.search(r"embedded Redis at unix://(\S+)/redis\.socket", text)
            pid = _read(f"{match.group(1)}/redis.pid") if match else None
            self.redis_pid = int(pid) if pid and pid.strip().isdigit() else None
        return self.redis_pid

    def processes(self) -> list[tuple[int, str]]:
        """(pid, command line) of every live process carrying this stack's instance-dir marker,
        and the embedded Redis."""
        marker = f"REPORTGEN_INSTANCE_DIR={self.scratch}".encode()
        found = []
        redis = self._embedded_redis()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            environ = _read(f"/proc/{entry}/environ")
            if environ is None:
                continue
            cmdline = (_read(f"/proc/{entry}/cmdline") or b"").replace(b"\0", b" ").decode(errors="replace").strip()
            ours = marker in environ.split(b"\0") or (int(entry) == redis and "redis-server" in cmdline)
            if not ours:
                continue
            stat = _read(f"/proc/{entry}/stat") or b""
            if b") Z " in stat:  # a zombie waiting to be reaped
                continue
            found.append((int(entry), cmdline))
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """CPU (user + system, own and reaped children's) used so far, summed per role."""
        totals: dict[str, float] = {}
        for pid, cmdline in self.processes():
            stat = _read(f"/proc/{pid}/stat")
            if stat is None:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
            name = role(cmdline)
            totals[name] = totals.get(name, 0.0) + ticks / CLOCK_TICKS
        return totals

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return repr(exc)

    def count(self, wanted: str) -> int:
        """Processes of a role whose parent is not of that role (so not RQ's scheduler or a horse)."""
        found = self.processes()
        of_role = {pid for pid, cmd in found if role(cmd) == wanted}
        return sum(_parent(pid) not in of_role for pid in of_role)


def _parent(pid: int) -> int:
    stat = _read(f"/proc/{pid}/stat") or b") X 0"
    return int(stat[stat.rindex(b")") + 2:].split()[1])
