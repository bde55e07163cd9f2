"""Many uploads at the cap at once: every web process of a real gunicorn (as ``make run`` serves:
2 processes × 4 threads, the buffering worker) stays within its 400 MiB. Each process parses
one large body at a time (:mod:`reportgen.serving.body_budget`): the others wait, or get ``503``
with ``Retry-After`` and are sent again; none gets a 500, and a small request goes through
meanwhile. On both databases (the web server's own SQLite, or PostgreSQL)."""
from __future__ import annotations

import concurrent.futures
import http.client
import json
import time

import pytest

from ..support.payloads import sample_students
from ..support.processes import PeakRss
from ..support.webserver import gunicorn
from .test_memory import largest_accepted_upload

WEB_BUDGET = 400 * 2**20


def post(host: str, port: int, path: str, body: bytes) -> tuple[int, dict, float]:
    """``(status, headers, seconds)`` of one POST on a connection of its own."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=300)
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, dict(response.getheaders()), time.monotonic() - started


def send_until_accepted(host: str, port: int, body: bytes, deadline: float) -> list[int]:
    """POST the body, again after Retry-After each time it is refused with 503: its statuses."""
    statuses = []
    while True:
        status, headers, _ = post(host, port, "/assignment/sequence", body)
        statuses.append(status)
        if status != 503 or time.monotonic() > deadline:
            return statuses
        assert int(headers["Retry-After"]) > 0
        time.sleep(int(headers["Retry-After"]))


@pytest.fixture(params=["sqlite", "postgresql"])
def web_database(request, config, tmp_path) -> dict:
    """The app's config on the test PostgreSQL or on a SQLite file of its own."""
    if request.param == "postgresql":
        request.getfixturevalue("app")
        return config
    return {**config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'web.sqlite3'}"}


@pytest.mark.capacity
@pytest.mark.parametrize("clients", [8, 32])
def test_uploads_at_the_cap_at_once_keep_every_web_process_within_400_mib(web_database, tmp_path, clients):
    upload = largest_accepted_upload(250_000, 20 * 2**20)
    body = json.dumps(upload).encode()
    with gunicorn(web_database, tmp_path, REPORTGEN_RATE_LIMIT="", REPORTGEN_SUBMIT_RATE_LIMIT="") as (host, port), \
            PeakRss() as memory:
        deadline = time.monotonic() + 240
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            uploads = [pool.submit(send_until_accepted, host, port, body, deadline) for _ in range(clients)]
            time.sleep(3)  # the uploads are in, and parsing
            small_status, _, small_seconds = post(host, port, "/assignment/sequence",
                                                  json.dumps(sample_students()).encode())
            statuses = [future.result() for future in uploads]
    answers = [status for attempts in statuses for status in attempts]
    print(f"{clients} uploads of {len(body) / 2**20:.1f} MiB: {answers.count(200)} answered 200, "
          f"{answers.count(503)} times 503 first; a small request took {small_seconds:.1f} s; peak RSS per "
          f"process (MiB): {sorted(round(peak / 2**20) for peak in memory.peaks['web'].values())}")
    assert set(answers) <= {200, 503}, answers
    assert all(attempts[-1] == 200 for attempts in statuses), statuses
    assert small_status == 200
    assert max(memory.peaks['web'].values()) <= WEB_BUDGET, {pid: peak >> 20 for pid, peak in memory.peaks['web'].items()}
