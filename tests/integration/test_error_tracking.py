"""Error tracking against a real receiver of Sentry envelopes on loopback: a job that raises
arrives tagged with its request id and task id, and nothing personal rides along."""
import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from reportgen.extensions import db
from reportgen.models import Report

from ..support.api import post_json
from ..support.payloads import event, student
from ..support.processes import wait_until

STUDENT_ID = "student-7731-private"
EMAIL = "teacher.private@school.example"


class EnvelopeReceiver:
    """An HTTP server that takes Sentry's envelopes (``POST /api/<project>/envelope/``), unpacks
    them (gzip or deflate) and keeps each item: ``items`` is a list of ``(type, payload, raw)``."""

    def __init__(self):
        self.items: list[tuple[str, object, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                receiver.items.extend(parse_envelope(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_port}/42"

    def events(self) -> list[tuple[dict, bytes]]:
        return [(payload, raw) for kind, payload, raw in self.items if kind == "event"]


def parse_envelope(body: bytes):
    """Sentry's envelope format: a header line, then per item a header line and its payload
    (``length`` bytes when the header gives it, else up to the next newline)."""
    _, _, rest = body.partition(b"\n")
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[:header["length"]], rest[header["length"]:].removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        try:
            decoded = json.loads(payload)
        except ValueError:
            decoded = None
        yield header.get("type"), decoded, payload


@pytest.fixture
def sentry():
    receiver = EnvelopeReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_a_job_that_raises_reaches_sentry_tagged_and_without_personal_data(app, client, config, run_worker, sentry):
    response = post_json(client, "/assignment/pdf", [student(STUDENT_ID, [event(1)])],
                         headers={"X-Request-ID": "trail-for-sentry-1"})
    task_id = response.get_json()["task_id"]
    with app.app_context():  # options that no version wrote: building the report's context raises
        db.session.execute(update(Report).where(Report.id == task_id).values(
            options={"window": f"{STUDENT_ID} {EMAIL}", "unit_order": [EMAIL, STUDENT_ID]}))
        db.session.commit()
    worker = run_worker(SENTRY_DSN=sentry.dsn, REPORTGEN_RETRY_INTERVALS="")
    assert "render_chunk" in worker.stderr and "failed" in worker.stderr  # the job raised

    [(event_payload, raw)] = wait_until(sentry.events, 30, "the event to reach the receiver")
    assert event_payload["tags"]["request_id"] == "trail-for-sentry-1"
    assert event_payload["tags"]["task_id"] == task_id
    assert event_payload["exception"]["values"][-1]["type"]
    everything = b"".join(raw for _, _, raw in sentry.items).decode()
    assert STUDENT_ID not in everything and EMAIL not in everything and "@school.example" not in everything
