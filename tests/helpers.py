"""Builders for submissions, and the handler of the loopback SMTP server, shared by the tests."""
from __future__ import annotations

import email
import email.policy
import io
import json
import socket


def student(student_id: str, events: list[dict], namespace: str = "course-1") -> dict:
    return {"student_id": student_id, "namespace": namespace, "events": events}


def event(unit, created_time: str | None = None, type_: str = "saved_code") -> dict:
    body = {"unit": unit, "type": type_}
    if created_time is not None:
        body["created_time"] = created_time
    return body


def sample_students() -> list[dict]:
    """Two students of one namespace, one of them with a non-Latin id."""
    return [
        student("alice", [
            event("17", "2024-07-21 03:04:55.939000+00:00"),
            event(5, "2024-07-21 03:00:00+00:00"),
            event("17", "2024-07-21T05:04:55+02:00"),
        ]),
        student("Zoë Дмитрий Ωμέγα", [
            event("9", "2024-07-22T10:00:00Z"),
            event("10", "2024-07-22T09:00:00Z"),
        ]),
    ]


def post_json(client, url: str, payload) -> object:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


class Mailbox:
    """An SMTP handler that keeps what it accepts, or answers every recipient with ``refusal``."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.refusal: str | None = None
        self.rcpt_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts += 1
        if self.refusal:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def report_of(students: list[dict], options: dict | None = None, generated_at=None):
    """The report data of a submission, prepared as a real upload is (window, labels, analytics)."""
    from reportgen.documents import ReportContext, StudentInput, report_data
    from reportgen.domain.preparation import prepare
    from reportgen.domain.submission import parse_upload

    document = {"students": students, "options": options} if options else students
    upload = parse_upload(document)
    prepared = prepare(upload.students, upload.options)
    context = ReportContext.of(prepared)
    context = ReportContext(**{**{f: getattr(context, f) for f in context.__slots__}, "generated_at": generated_at})
    inputs = [StudentInput(number, student, metrics)
              for number, (student, metrics) in enumerate(zip(prepared.students, prepared.metrics), start=1)]
    return report_data(context, inputs)


def pdf_pages(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
