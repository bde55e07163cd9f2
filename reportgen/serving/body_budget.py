"""A web process's budget for the request bodies it parses at once.

Parsing an upload holds it several times over (the body, its text, the parsed values, the
students): one submit at the cap (``REPORTGEN_MAX_UPLOAD_OBJECTS``, an 18.5 MiB body) peaks at
~265 MiB in a web process of a real gunicorn, so a second one beside it would pass the 400 MiB a
web process may take;
eight uploads of 17.8 MiB sent at once to ``/assignment/sequence`` took two processes to 880 and
655 MiB. The count of objects bounds one parse, not how many run side by side.

So each process admits request bodies by their declared size (``Content-Length``; a chunked
body counts as ``MAX_CONTENT_LENGTH``) up to ``MAX_CONTENT_LENGTH`` bytes at a time, before
anything reads or parses them (the hook runs before the upload form's CSRF check, which is the
first to read a form). A body of ``SMALL_BODY`` or less passes at once, uncounted (a form post,
a poll, a class's upload). A larger one waits for room, up to ``WAIT_SECONDS`` (one at a time:
a waiting request holds a thread), else is answered ``503`` with ``Retry-After`` (its body read
and dropped, so that a client still sending reads the answer), and its client sends it again.
Once a large body is done with, the memory its parse freed is handed back to the system before
the next one is admitted (``pipeline.memory``). gunicorn's buffering worker holds one body at the
cap besides (``serving.gunicorn_worker``). Measured with 8 and 32 concurrent uploads at the cap
(``tests/integration/test_concurrent_uploads.py``, BENCHMARKS.md): every web process stayed
under 320 MiB.
"""
from __future__ import annotations

import threading

from flask import Flask, current_app, g, request
from werkzeug.exceptions import ServiceUnavailable

from ..config import MiB
from ..pipeline import memory

#: A body this small is never counted nor kept waiting.
SMALL_BODY = 1 * MiB
#: How long a large body waits for room before it is answered 503, and how many may wait at once
#: (each holds one of the process's threads, which small requests need).
WAIT_SECONDS = 10.0
MAX_WAITING = 1
#: What the 503 tells the client to wait before sending it again.
RETRY_AFTER_SECONDS = 5
DISCARD_CHUNK = 64 * 1024


class BodyBudget:
    """Bytes of bodies being parsed in this process, at most ``capacity`` at once; at most
    ``MAX_WAITING`` requests wait for room, so the others' threads stay free for small requests."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.used = 0
        self.waiting = 0
        self.condition = threading.Condition()

    def acquire(self, amount: int, timeout: float) -> bool:
        """Hold ``amount`` bytes (at most the capacity) once they fit; False after ``timeout`` s,
        or at once when ``MAX_WAITING`` requests wait already."""
        amount = min(amount, self.capacity)
        with self.condition:
            if self.used + amount > self.capacity:
                if self.waiting >= MAX_WAITING:
                    return False
                self.waiting += 1
                try:
                    if not self.condition.wait_for(lambda: self.used + amount <= self.capacity, timeout):
                        return False
                finally:
                    self.waiting -= 1
            self.used += amount
            return True

    def release(self, amount: int) -> None:
        with self.condition:
            self.used -= min(amount, self.capacity)
            self.condition.notify_all()


def _declared_size() -> int:
    """The body's declared size: its Content-Length, or the limit for a chunked body."""
    if request.content_length is not None:
        return request.content_length
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return current_app.config["MAX_CONTENT_LENGTH"]
    return 0


def _admit():
    size = _declared_size()
    if size <= SMALL_BODY or size > current_app.config["MAX_CONTENT_LENGTH"]:
        return None  # small, or refused with 413 unread
    budget: BodyBudget = current_app.extensions["reportgen.body_budget"]
    if not budget.acquire(size, WAIT_SECONDS):
        _discard_body()
        raise ServiceUnavailable(f"the server is reading other large uploads; send this one again in "
                                 f"{RETRY_AFTER_SECONDS} s", retry_after=RETRY_AFTER_SECONDS)
    g.body_budget_held = size
    return None


def _discard_body() -> None:
    """Read the body a chunk at a time and drop it, so that the client, still sending, reads the
    503 instead of a broken connection (a few kilobytes held, never the body)."""
    stream = request.stream
    while stream.read(DISCARD_CHUNK):
        pass


def _release(_exc=None) -> None:
    """Give the body's room back, after handing the parse's freed memory back to the system:
    glibc keeps it in the heap of the thread that parsed (one per thread), and the next parse,
    in another thread, would come on top of it (eight uploads at once reached 509 MiB so)."""
    held = g.pop("body_budget_held", 0)
    if held:
        memory.release()
        current_app.extensions["reportgen.body_budget"].release(held)


def init_app(app: Flask) -> None:
    """Admit bodies by the budget; call before any hook that reads a body (CSRF, the form limit)."""
    app.extensions["reportgen.body_budget"] = BodyBudget(app.config["MAX_CONTENT_LENGTH"])
    app.before_request(_admit)
    app.teardown_request(_release)
