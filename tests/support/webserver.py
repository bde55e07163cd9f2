"""A real gunicorn serving the app as ``make run`` starts it, and a small browser for it.

Access and slow-client tests go through real HTTP on a real socket: the rate limits, the session
cookie and the worker model are what a client meets there, not what a test client simulates.
"""
from __future__ import annotations

import contextlib
import http.cookiejar
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

from .pages import CSRF_TOKEN
from .processes import ROOT, free_port, stop_worker, worker_env

#: ``reportgen.serving.devstack``'s web server (2 workers × 4 threads), run from the repository root so
#: that gunicorn reads ``gunicorn.conf.py`` as under ``make run``.
GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--access-logfile", "-",
            "--logger-class", "reportgen.serving.gunicorn_logger.JsonLogger", "wsgi:app"]


@contextlib.contextmanager
def gunicorn(config: dict, tmp_path, bind: str = "127.0.0.1", **settings: str) -> Iterator[tuple[str, int]]:
    """Serve on a free port of ``bind`` (loopback unless given) with the test database and Redis;
    yields ``(host, port)``, the host to reach it on."""
    port = free_port()
    host = "127.0.0.1" if bind == "0.0.0.0" else bind
    log = open(tmp_path / f"gunicorn-{port}.log", "wb")
    with log:
        server = subprocess.Popen([*GUNICORN[:3], "--bind", f"{bind}:{port}", *GUNICORN[3:]], cwd=ROOT,
                                  env=worker_env(config, tmp_path, **settings), stdout=log, stderr=log,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while Browser(f"http://{host}:{port}").status("/healthz") != 200:
            assert server.poll() is None, (tmp_path / f"gunicorn-{port}.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield host, port
    finally:
        stop_worker(server)  # gunicorn, like a worker, runs in a session of its own


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Keeps cookies, follows no redirects, never raises for an HTTP status."""

    def __init__(self, base: str, replayed_cookie: str | None = None):
        self.base = base
        self.replayed = {"Cookie": f"session={replayed_cookie}"} if replayed_cookie else {}
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirects)

    def request(self, path: str, data=None, headers: dict | None = None, timeout: float = 30):
        """``(status, headers, text)``; a dict ``data`` is sent as a form."""
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=body,
                                                         headers={**self.replayed, **(headers or {})}),
                                  timeout=timeout) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return None, {}, ""

    def status(self, path: str, data=None, headers: dict | None = None) -> int | None:
        return self.request(path, data, headers)[0]

    def csrf_token(self, path: str) -> str:
        return CSRF_TOKEN.search(self.request(path, headers={"Accept": "text/html"})[2]).group(1)

    def session_cookie(self) -> str | None:
        return next((cookie.value for cookie in self.cookies if cookie.name == "session"), None)
