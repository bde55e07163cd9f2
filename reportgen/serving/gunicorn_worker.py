"""gunicorn's threaded worker, with each request read in full by its event loop before a thread
takes it (``gunicorn.conf.py`` selects it).

Why: gthread hands a connection to one of its threads as soon as the first bytes arrive, and the
thread then blocks until the request's head and body are in. Eight clients that never finished
their headers held all eight threads (2 workers × 4) and ``/healthz`` timed out for 30–45 s.
Here the worker's main loop, the selector that already watches kept-alive connections, reads
without blocking until the head and a body of declared length are buffered; only a complete
request reaches a thread, so the threads keep doing what ``--threads 4`` is there for (rendering
submissions; BENCHMARKS.md "Throughput and fairness"). A slow client costs a socket and its
buffered bytes, not a thread.

Bounds: the head must arrive within ``HEAD_TIMEOUT`` seconds and the body at ``MIN_UPLOAD_RATE``
on average (plus the head's time), else the connection gets ``408`` and is closed. A worker
holds buffered bodies of at most ``MAX_CONTENT_LENGTH`` bytes in all, counted until the thread
that took the request is done with it, not only while they arrive: a complete request waits
for a thread with its body, and 32 uploads at the cap would otherwise all wait in memory (the
app parses one at a time: :mod:`.body_budget`). A body that does not fit, a body over ``MAX_CONTENT_LENGTH`` (the app
answers 413 without reading it) and chunked bodies go to a thread unread, as does writing a
response to a client that reads slowly. In compose, nginx in front buffers all of these.
"""
from __future__ import annotations

import io
import re
import selectors
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

from ..config import settings_or_exit
from ..pipeline import memory

HEAD_TIMEOUT = 10.0
MIN_UPLOAD_RATE = 32 * 1024
READ_SIZE = 256 * 1024
HEAD_END = b"\r\n\r\n"
_TIMEOUT_TEXT = b"The request did not arrive in time.\r\n"
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(_TIMEOUT_TEXT), _TIMEOUT_TEXT))
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*chunked", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)


@dataclass
class _Reading:
    """A connection whose request is still arriving."""
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    wanted: int | None = None  # head plus body, once the head is in
    reserved: int = 0  # bytes of the buffer budget held for the body


class BufferingThreadWorker(ThreadWorker):
    """``gthread`` whose threads only ever see complete requests (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: dict[object, _Reading] = {}
        self.ready: dict[object, bytes] = {}
        self.buffered_bodies = 0  # held by requests arriving, waiting for a thread, or in one
        self.held: dict[object, int] = {}  # what each dispatched request holds until its thread is done
        self.budget_lock = threading.Lock()
        self.max_head = (self.cfg.limit_request_line or 8190) + 4 + \
            (self.cfg.limit_request_fields or 100) * ((self.cfg.limit_request_field_size or 8190) + 2)
        # ``MAX_CONTENT_LENGTH``: the app refuses larger bodies, and this never buffers more.
        # Made in gunicorn's master, so bad settings stop it before any worker forks.
        self.max_body = settings_or_exit().MAX_CONTENT_LENGTH
        # One body at the cap at once (beside the one being parsed, a second pushed a web process
        # past 400 MiB).
        self.buffer_budget = self.max_body

    def init_process(self):
        """In the forked worker, before its threads start: one heap for them all (pipeline.memory)."""
        memory.single_heap()
        super().init_process()

    def enqueue_req(self, conn):
        """Every way into the thread pool (new, kept-alive, pipelined) passes here first."""
        reading = _Reading(deadline=time.monotonic() + HEAD_TIMEOUT)
        if conn.parser is not None:  # bytes of a pipelined request the last one read ahead
            reading.data += conn.parser.unreader.buf.getvalue()
            conn.parser.unreader.buf = io.BytesIO()
        self.reading[conn] = reading
        if not self._take(conn, reading):
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))

    def on_request_bytes(self, conn, client):
        reading = self.reading[conn]
        try:
            data = client.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn, answer=False)
            return
        reading.data += data
        self._take(conn, reading)

    def _take(self, conn, reading: _Reading) -> bool:
        """Hand the request to a thread once it is complete (or past what is worth buffering)."""
        if reading.wanted is None:
            end = reading.data.find(HEAD_END)
            if end < 0:
                if len(reading.data) <= self.max_head:
                    return False
                return self._dispatch(conn, reading)  # the parser answers the oversized head
            head_length = end + len(HEAD_END)
            body = self._declared_body(reading.data[:head_length])
            with self.budget_lock:
                fits = body is not None and body <= self.max_body and body <= self.buffer_budget - self.buffered_bodies
                if fits:
                    self.buffered_bodies += body
            if not fits:
                return self._dispatch(conn, reading)
            reading.reserved, reading.wanted = body, head_length + body
            reading.deadline += body / MIN_UPLOAD_RATE
            if len(reading.data) < reading.wanted:
                self._continue(conn, reading, end)
        if len(reading.data) < reading.wanted:
            return False
        return self._dispatch(conn, reading)

    @staticmethod
    def _declared_body(head: bytes) -> int | None:
        """The body's length, 0 without one; None when only a thread can read it (chunked)."""
        if _CHUNKED.search(head):
            return None
        lengths = set(_CONTENT_LENGTH.findall(head))
        if len(lengths) > 1:
            return None  # the parser refuses conflicting lengths
        return int(lengths.pop()) if lengths else 0

    @staticmethod
    def _continue(conn, reading: _Reading, head_end: int) -> None:
        """Answer ``Expect: 100-continue`` here, since the body is read here, and drop the header
        so that the thread does not answer it a second time."""
        head = bytes(reading.data[:head_end + 2])  # every header line with its CRLF
        without = _EXPECT_CONTINUE.sub(b"", head)
        if without != head:
            try:
                conn.sock.send(CONTINUE)
            except OSError:
                return
            reading.data[:head_end + 2] = without
            reading.wanted -= len(head) - len(without)

    def _forget(self, conn) -> _Reading:
        reading = self.reading.pop(conn)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        return reading

    def _dispatch(self, conn, reading: _Reading) -> bool:
        self._forget(conn)
        self.ready[conn] = bytes(reading.data)
        self.held[conn] = reading.reserved
        super().enqueue_req(conn)
        return True

    def _give_back(self, amount: int) -> None:
        with self.budget_lock:
            self.buffered_bodies -= amount

    def _drop(self, conn, answer: bool) -> None:
        self._give_back(self._forget(conn).reserved)
        if answer:
            try:
                conn.sock.send(TIMEOUT_RESPONSE)
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Also close connections whose request is late (408 if any of it had arrived)."""
        super().murder_pending()
        now = time.monotonic()
        for conn, reading in list(self.reading.items()):
            if reading.deadline <= now:
                self._drop(conn, answer=bool(reading.data))

    def handle(self, conn):
        """Runs in a thread: the parser reads the buffered request before the socket; the body's
        share of the buffer budget is given back once the request is done."""
        buffered = self.ready.pop(conn, b"")
        conn.data_ready = True
        conn.sock.setblocking(True)
        conn.init()
        if buffered:
            conn.parser.unreader.unread(buffered)
        del buffered  # the parser holds its own copy: one less body in memory while the app runs
        try:
            return super().handle(conn)
        finally:
            self._give_back(self.held.pop(conn, 0))
