"""Real servers on loopback that stand in for the outside world: an SMTP mailbox (the handler
of an aiosmtpd server), a webhook receiver, and a hostile one that trickles its answer."""
from __future__ import annotations

import asyncio
import email
import email.policy
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Mailbox:
    """An SMTP handler that keeps what it accepts, or answers every recipient with ``refusal``.
    With ``stall_at`` set to an address, the message to it is kept and its answer held back until
    ``release`` is set (``stalled`` tells when it got there): a sender caught mid-exchange."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.refusal: str | None = None
        self.rcpt_attempts = 0
        self.stall_at: str | None = None
        self.stalled, self.release = threading.Event(), threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts += 1
        if self.refusal:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        if self.stall_at in envelope.rcpt_tos:
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


#: A Standard Webhooks secret for tests (``whsec_`` and 32 bytes in base64).
WEBHOOK_SECRET = "whsec_" + "dGVzdC13ZWJob29rLXNlY3JldC0zMi1ieXRlcyEhISE="


#: What a worker needs to reach a :class:`WebhookReceiver`: the secret, loopback allowed, quick retries.
WEBHOOK_WORKER_ENV = {"REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET, "REPORTGEN_WEBHOOK_ALLOW": "127.0.0.1",
                      "REPORTGEN_WEBHOOK_RETRY_INTERVALS": "1,1", "REPORTGEN_WEBHOOK_TIMEOUT": "2"}


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that receives webhooks and checks each one's signature
    with the ``standardwebhooks`` library (``verified``: the payload, or the error's text).

    ``answers`` are played in order, one per request, the last one for every request after:
    a status code, or ``(status, headers)``, or ``("sleep", seconds)`` to answer 200 too late."""

    def __init__(self, secret: str = WEBHOOK_SECRET):
        from standardwebhooks import Webhook

        self.answers: list = [204]
        self.requests: list[dict] = []
        receiver, verifier = self, Webhook(secret)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                try:
                    verified = verifier.verify(body, headers)
                except Exception as exc:
                    verified = f"{type(exc).__name__}: {exc}"
                receiver.requests.append({"path": self.path, "headers": headers, "body": body, "verified": verified})
                answer = receiver.answers[min(len(receiver.requests), len(receiver.answers)) - 1]
                status, extra = (answer, {}) if isinstance(answer, int) else answer
                if status == "sleep":
                    time.sleep(extra)
                    status, extra = 200, {}
                self.send_response(status)
                for name, value in {"Content-Length": "0", **extra}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class TricklingReceiver:
    """A hostile webhook receiver on 127.0.0.1: it reads the request, answers ``HTTP/1.1 200 OK``
    and then one more header byte every ``every`` seconds, for as long as the sender stays.
    ``connections`` holds each connection's ``(opened, closed)`` monotonic times (``closed``
    None while it is open)."""

    def __init__(self, every: float = 3.0):
        self.every = every
        self.connections: list[list[float | None]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stopped = threading.Event()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}{path}"

    @property
    def open_connections(self) -> int:
        return sum(closed is None for _, closed in self.connections)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = [time.monotonic(), None]
            self.connections.append(record)
            threading.Thread(target=self._trickle, args=(connection, record), daemon=True).start()

    def _trickle(self, connection: socket.socket, record: list) -> None:
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    record[1] = time.monotonic()
                    return
                received += chunk
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stopped.is_set():
                    readable, _, _ = select.select([connection], [], [], self.every)
                    if readable and not connection.recv(65536):
                        break  # the sender gave up
                    if not readable:
                        connection.sendall(b"X")
            except OSError:
                pass
            record[1] = time.monotonic()

    def __enter__(self) -> TricklingReceiver:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.listener.close()
