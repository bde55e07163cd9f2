"""Submitting reports: the one path shared by the JSON API, the upload form and the CLI."""
from __future__ import annotations

import json
import logging

from redis.exceptions import RedisError

from .domain.batching import plan_chunks
from .domain.sequencing import unit_labels
from .domain.submission import Student, to_document
from .extensions import db
from .logs import current_task_id
from .models import FORMATS, Delivery, DeliveryStatus, Report, ReportItem, Status
from .queue import enqueue_report

log = logging.getLogger(__name__)


class QueueUnavailable(RuntimeError):
    """The report row was stored but could not be queued."""

    def __init__(self, report: Report):
        super().__init__("the job queue (Redis) is unavailable; the report was not started")
        self.report = report


def _compact_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def create_report(
    students: list[Student],
    report_format: str,
    *,
    label: str | None = None,
    submission_id: str | None = None,
    recipients: tuple[str, ...] = (),
) -> Report:
    """Store a ``PENDING`` report with one item per student, commit, then queue its chunk jobs
    (enqueue after commit).

    If Redis refuses, the row is marked ``FAILURE`` so the database never claims work
    that nobody will do, and :class:`QueueUnavailable` is raised. ``label`` and
    ``submission_id`` (both optional) name and group the reports one upload form submission
    creates, one per format; the API leaves them empty. Each of ``recipients`` gets the
    finished report by email.
    """
    if report_format not in FORMATS:
        raise ValueError(f"unknown report format {report_format!r}")
    document = to_document(students)
    chunks = plan_chunks([len(student.events) for student in students])
    report = Report(
        format=report_format,
        status=Status.PENDING.value,
        input_json=_compact_json(document),
        student_count=len(students),
        event_count=sum(len(s.events) for s in students),
        student_ids=[s.student_id for s in students],
        namespaces=sorted({s.namespace for s in students}),
        progress_current=0,
        progress_total=len(students),
        label=label,
        submission_id=submission_id,
        labels=unit_labels(students),
        chunk_count=chunks[-1] + 1,
        items=[
            ReportItem(position=position, chunk=chunk, student_id=student.student_id,
                       namespace=student.namespace, event_count=len(student.events),
                       input_json=_compact_json([entry]), status=Status.PENDING.value)
            for position, (student, entry, chunk) in enumerate(zip(students, document, chunks))
        ],
        deliveries=[Delivery(recipient=recipient, status=DeliveryStatus.QUEUED.value) for recipient in recipients],
    )
    db.session.add(report)
    db.session.commit()
    current_task_id.set(report.id)
    try:
        enqueue_report(report.id, report.chunk_count)
    except RedisError:
        log.exception("could not enqueue report %s", report.id)
        report.status = Status.FAILURE.value
        report.error = "The job queue was unavailable, so the report was never started. Please submit it again."
        db.session.commit()
        raise QueueUnavailable(report) from None
    log.info("report queued", extra={"format": report_format, "students": report.student_count,
                                     "events": report.event_count, "chunks": report.chunk_count,
                                     "recipients": len(recipients)})
    return report
