"""Slow clients against a real gunicorn started as ``make run`` starts it (2 workers × 4 threads,
``gunicorn.conf.py`` read from the repository root), over raw sockets.

Before the buffering worker, 8 connections that never finished their headers held all 8 threads
and ``/healthz`` timed out; here twice that many, and slow bodies, must not delay it.
"""
from __future__ import annotations

import json
import socket
import time

import pytest

from reportgen.serving.gunicorn_worker import HEAD_TIMEOUT

from ..support.payloads import sample_students
from ..support.webserver import gunicorn

THREADS = 8
HEALTH_WITHIN = 1.0


@pytest.fixture
def server(config, tmp_path):
    with gunicorn(config, tmp_path) as address:
        yield address


def connect(address) -> socket.socket:
    return socket.create_connection(address, timeout=HEAD_TIMEOUT + 10)


def health_seconds(address) -> float:
    """How long a fresh client waits for ``/healthz`` (fails past 5 s)."""
    started = time.monotonic()
    with socket.create_connection(address, timeout=5) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = read_all(client)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return time.monotonic() - started


def read_all(client: socket.socket) -> bytes:
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def sequence_request(body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /assignment/sequence HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra))


STALLED_STARTS = [
    b"",                                                        # connects, sends nothing
    b"GET /heal",                                               # half a request line
    b"GET /healthz HTTP/1.1\r\n",                               # the request line only
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n",  # headers without the blank line
]


def test_connections_that_never_finish_their_headers_do_not_delay_health_checks(server):
    stalled = []
    for number in range(2 * THREADS):
        client = connect(server)
        client.sendall(STALLED_STARTS[number % len(STALLED_STARTS)])
        stalled.append(client)
    trickling = [connect(server) for _ in range(4)]
    for client in trickling:
        client.sendall(b"GET /healthz HTTP/1.1\r\n")

    waits = []
    started = time.monotonic()
    while time.monotonic() - started < HEAD_TIMEOUT - 1:  # past gthread's own 5 s wait for a first byte
        for client in trickling:
            client.sendall(b"X")  # one byte of a header every half second, never the end
        waits.append(health_seconds(server))
        time.sleep(0.5)
    assert max(waits) < HEALTH_WITHIN, f"/healthz took up to {max(waits):.2f} s with 20 slow clients connected"

    for client in stalled + trickling:  # and the server lets them go after HEAD_TIMEOUT
        answer = read_all(client)
        assert answer in (b"", ) or answer.startswith(b"HTTP/1.1 408"), answer[:200]
        client.close()
    assert time.monotonic() - started < HEAD_TIMEOUT + 5


def test_slow_bodies_are_buffered_then_served_whole(server):
    body = json.dumps(sample_students()).encode()
    slow = [connect(server) for _ in range(2 * THREADS)]
    for client in slow:
        client.sendall(sequence_request(body) + body[:10])
    waits = [health_seconds(server) for _ in range(5)]
    assert max(waits) < HEALTH_WITHIN, f"/healthz took up to {max(waits):.2f} s behind slow uploads"

    for client in slow:
        client.sendall(body[10:])
    for client in slow:
        answer = read_all(client)
        client.close()
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), answer[:300]
        assert [s["student_id"] for s in json.loads(payload)["students"]] == ["alice", "Zoë Дмитрий Ωμέγα"]


def test_expect_100_continue_is_answered_once_and_the_body_served(server):
    body = json.dumps(sample_students()).encode()
    with connect(server) as client:
        client.sendall(sequence_request(body, b"Expect: 100-continue\r\n"))
        assert client.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(body)
        answer = read_all(client)
    assert answer.startswith(b"HTTP/1.1 200") and b"100 Continue" not in answer, answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["students"][0]["student_id"] == "alice"


def test_kept_alive_and_pipelined_requests_are_all_answered(server):
    one = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with connect(server) as client:
        client.sendall(one + one + b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answers = read_all(client)
    assert answers.count(b"HTTP/1.1 200") == 3 and answers.count(b'"status":"ok"') + \
        answers.count(b'"status": "ok"') == 3, answers
