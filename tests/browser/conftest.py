"""Real parts for the browser tests: the app served over HTTP, an RQ worker process and
headless Chromium driven by Playwright (never downloaded: the system's ``chromium`` is used)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from ..support.processes import ROOT, worker_env

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_executable() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def browser():
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium binary found: install Debian's `chromium` (`.ci/run` does) to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh contexts (cookies, JavaScript on or off), closed at teardown."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(viewport=DESKTOP, accept_downloads=True, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def live_server(app):
    """The test app over real HTTP on a free port, in a thread of this process."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


class Workers:
    """``flask worker`` processes on the test database and Redis, stopped at teardown."""

    def __init__(self, config: dict, tmp_path: Path):
        self.config, self.tmp_path = config, tmp_path
        self.running: list[tuple[subprocess.Popen, object, Path]] = []

    def start(self) -> subprocess.Popen:
        log_path = self.tmp_path / f"worker-{len(self.running)}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=ROOT, env=worker_env(self.config, self.tmp_path), stdout=log, stderr=subprocess.STDOUT,
        )
        self.running.append((process, log, log_path))
        return process

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-4000:] for _, _, path in self.running)

    def stop(self) -> None:
        for process, log, _ in self.running:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()


@pytest.fixture
def workers(config, tmp_path):
    workers = Workers(config, tmp_path)
    yield workers
    workers.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
