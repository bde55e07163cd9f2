"""Submitting reports: the one path shared by the JSON API, the upload form and the CLI. A
report is stored with one row per student and committed, then its jobs are queued (enqueue
after commit); an upload of several formats is one submission, prepared once.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.options import DEFAULT_OPTIONS, ReportOptions, options_from_dict
from ..domain.preparation import PreparedUpload, prepare
from ..domain.sequencing import sequence_response
from ..domain.submission import Student, to_document
from ..extensions import db
from ..logs import current_request_id, current_task_id
from ..models import Delivery, DeliveryKind, DeliveryStatus, Report, ReportItem, ReportPart, Status, utcnow
from ..render import formats
from ..render.documents import plan
from ..render.fonts import missing_glyphs
from . import state
from .queue import enqueue_report
from .status import public_base
from .stored import stored_upload

log = logging.getLogger(__name__)


#: The header that makes a retried submit safe, the longest key it takes, and how long a key names
#: the report it created (after that it may be used again).
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_WINDOW = timedelta(hours=24)



class QueueUnavailable(RuntimeError):
    """The report row was stored but could not be queued."""

    def __init__(self, report: Report):
        super().__init__("the job queue (Redis) is unavailable; the report was not started")
        self.report = report


@dataclass(frozen=True)
class Idempotency:
    """A submit's ``Idempotency-Key``: the client it is scoped to, the key, and the SHA-256 of the request."""

    client: str
    key: str
    digest: str


class KeyInUse(RuntimeError):
    """A concurrent submit with the same client and key stored its report first."""


def idempotent_report(idempotency: Idempotency) -> Report | None:
    """The report this client's key created less than :data:`IDEMPOTENCY_WINDOW` ago, if any."""
    return db.session.scalar(select(Report).where(
        Report.idempotency_client == idempotency.client, Report.idempotency_key == idempotency.key,
        Report.created_at >= utcnow() - IDEMPOTENCY_WINDOW))


def _forget_expired_key(idempotency: Idempotency) -> None:
    """Free the key of an older report, so that the unique constraint lets it be used again."""
    db.session.execute(
        update(Report).where(Report.idempotency_client == idempotency.client,
                             Report.idempotency_key == idempotency.key,
                             Report.created_at < utcnow() - IDEMPOTENCY_WINDOW)
        .values(idempotency_client=None, idempotency_key=None),
        execution_options={"synchronize_session": False})


def _compact_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def glyph_warnings(students: list[Student], options: ReportOptions = DEFAULT_OPTIONS,
                   label: str | None = None) -> list[str] | None:
    """What the PDF's fonts cannot draw, said up front rather than printed as empty boxes: every
    text of the data, the names the report shows and the label (the title), wherever it is
    printed (text, tables or charts: they all draw with the same faces)."""
    texts = (text for student in students
             for text in (student.student_id, student.namespace,
                          *(event.unit for event in student.events), *(event.type or "" for event in student.events)))
    names = (name for names in (*options.unit_names.values(), *options.student_names.values()) for name in names.values())
    missing = missing_glyphs("".join({*texts, *names}) + (label or ""))
    if not missing:
        return None
    shown = " ".join(f"U+{ord(char):04X}" for char in sorted(missing)[:20])
    more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
    return [f"{len(missing)} character{'s' if len(missing) != 1 else ''} in the data cannot be drawn by the "
            f"PDF's fonts and will show as blanks: {shown}{more}."]


def _submitted_to() -> str | None:
    """Where the submit came to, for a worker's links (``Report.base_url``): None outside a request
    (the CLI), or for an address longer than the column holds."""
    base = public_base()
    return base if 0 < len(base) <= 2000 else None


def _commit_keeping(report: Report) -> None:
    """Commit without expiring what was just written: the answer to the submit is built from
    these very values, and reading them back would be one more query on the hot path."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def create_report(
    students: list[Student],
    report_format: str,
    *,
    label: str | None = None,
    submission_id: str | None = None,
    recipients: tuple[str, ...] = (),
    callback_url: str | None = None,
    options: ReportOptions = DEFAULT_OPTIONS,
    prepared: PreparedUpload | None = None,
    owner: str | None = None,
    idempotency: Idempotency | None = None,
    source: dict | None = None,
) -> Report:
    """Store a ``PENDING`` report with one item per student, commit, then queue its chunk jobs
    (enqueue after commit).

    If Redis refuses, the row is marked ``FAILURE`` (finished, its emails and webhook skipped:
    the caller answers at once that it failed) so the database never claims work that nobody
    will do, and :class:`QueueUnavailable` is raised. ``label`` and
    ``submission_id`` (both optional) name and group the reports one upload form submission
    creates, one per format; the API leaves them empty. Each of ``recipients`` gets one email
    for the whole upload (pass them with the upload's last report: see
    :func:`reportgen.pipeline.state.claim_upload_emails`), and ``callback_url`` (if any) this report's
    outcome by webhook. The upload is
    prepared once (window, labels, analytics; pass
    ``prepared`` to share it between the formats of one submission) and stored with the report.

    ``owner`` is the client that submits (:mod:`reportgen.auth.clients`; None records nobody,
    which only the operator sees once API tokens are on). With ``idempotency`` the database
    decides between concurrent submits of one key: the one whose row is stored second raises
    :class:`KeyInUse` (rolled back, nothing stored), and the caller answers with the first.
    ``source`` says what the upload was read as (:func:`reportgen.domain.importers.read_import`'s
    summary, or :func:`~reportgen.domain.importers.own_input`'s); it is stored and shown.
    """
    if report_format not in formats.FORMATS:
        raise ValueError(f"unknown report format {report_format!r}")
    paged = formats.get(report_format).paged
    prepared = prepared or prepare(students, options)
    students = prepared.students
    document = to_document(students)
    jobs = plan(prepared, report_format)
    report = Report(
        format=report_format,
        status=Status.PENDING.value,
        student_count=len(students),
        event_count=sum(len(s.events) for s in students),
        student_ids=[s.student_id for s in students],
        namespaces=sorted({s.namespace for s in students}),
        progress_current=0,
        progress_total=len(students),
        label=label,
        submission_id=submission_id,
        request_id=current_request_id.get(),
        base_url=_submitted_to(),
        labels=prepared.labels,
        sequences=sequence_response(students, prepared.labels),
        options=prepared.options.to_dict(),
        input=source,
        cohorts=prepared.cohorts,
        events_left_out=prepared.events_left_out,
        owner=owner,
        idempotency_client=idempotency and idempotency.client,
        idempotency_key=idempotency and idempotency.key,
        request_digest=idempotency and idempotency.digest,
        warnings=glyph_warnings(students, prepared.options, label) if paged else None,
        chunk_count=jobs.chunk_count,
        deliveries=[Delivery(recipient=recipient, status=DeliveryStatus.QUEUED.value) for recipient in recipients]
        + ([Delivery(kind=DeliveryKind.WEBHOOK.value, recipient=callback_url, status=DeliveryStatus.QUEUED.value)]
           if callback_url else []),
    )
    if idempotency is not None:
        _forget_expired_key(idempotency)
    db.session.add(report)
    try:
        db.session.flush()
    except IntegrityError:
        if idempotency is None:
            raise
        db.session.rollback()
        raise KeyInUse(idempotency.key) from None
    # The students (and empty pieces) as plain rows, one statement each: the ORM's unit of work
    # made a 2,000-student submit cost 3.8 s of CPU instead of 3.3 s.
    db.session.execute(insert(ReportItem), [
        {"report_id": report.id, "position": position, "chunk": chunk, "student_id": student.student_id,
         "namespace": student.namespace, "event_count": len(student.events), "input_json": _compact_json([entry]),
         "status": Status.PENDING.value, "attempts": 0, "metrics": metrics, "pieces": pieces}
        for position, (student, entry, chunk, metrics, pieces)
        in enumerate(zip(students, document, jobs.chunks, prepared.metrics, jobs.pieces))
    ])
    if jobs.extra_pieces:
        db.session.execute(insert(ReportPart), [{"report_id": report.id, "chunk": chunk, "piece": piece}
                                                for chunk, piece in jobs.extra_pieces])
    _commit_keeping(report)
    current_task_id.set(report.id)
    try:
        enqueue_report(report.id, report.chunk_count, jobs.extra_pieces)
    except RedisError:
        log.exception("could not enqueue report %s", report.id)
        report.status = Status.FAILURE.value
        report.error = "The job queue was unavailable, so the report was never started. Please submit it again."
        report.finished_at = utcnow()
        report.idempotency_client = report.idempotency_key = None  # submitting it again makes a new report
        db.session.commit()
        state.skip_deliveries(report.id, "The job queue was unavailable, so the report was never started and "
                                         "nothing was sent.", webhooks=True)
        raise QueueUnavailable(report) from None
    log.info("report queued", extra={"format": report_format, "students": report.student_count,
                                     "events": report.event_count, "chunks": report.chunk_count,
                                     "recipients": len(recipients)})
    return report


def submit_upload(students: list[Student], report_formats: list[str], label: str | None,
                  recipients: tuple[str, ...] = (), options: ReportOptions = DEFAULT_OPTIONS,
                  owner: str | None = None, source: dict | None = None, callback_url: str | None = None,
                  idempotency: Idempotency | None = None) -> list[Report]:
    """One report per format, grouped under one submission id, the upload prepared (window,
    labels, analytics) once for all of them. The recipients go with the last report created,
    the upload's lead: each gets one email with every format, once all of them have ended. Each
    report gets its own webhook to ``callback_url``. The first report holds ``idempotency``
    (a concurrent submit of the key raises :class:`KeyInUse` before anything is stored).

    If the queue is down, each report is still stored (as ``FAILURE``, by :func:`create_report`)
    so the status page can say so and offer to try again.
    """
    submission_id = str(uuid.uuid4())
    prepared = prepare(students, options)
    reports = []
    for number, report_format in enumerate(report_formats, start=1):
        try:
            reports.append(create_report(students, report_format, label=label, submission_id=submission_id,
                                         recipients=recipients if number == len(report_formats) else (),
                                         callback_url=callback_url, prepared=prepared, owner=owner,
                                         source=source, idempotency=idempotency if number == 1 else None))
        except QueueUnavailable as exc:
            reports.append(exc.report)
    return reports


def retry_report(report: Report, owner: str | None) -> Report:
    """Queue the stored input of a failed or canceled report again, as a new report of the same
    format with the same label, options, recipients and webhook, owned as the old one was
    (``owner`` for one stored before owners were recorded)."""
    recipients = tuple(delivery.recipient for delivery in report.deliveries if not delivery.is_webhook)
    callback_url = next((delivery.recipient for delivery in report.deliveries if delivery.is_webhook), None)
    try:
        return create_report(stored_upload(report), report.format, label=report.label,
                             submission_id=str(uuid.uuid4()), recipients=recipients, callback_url=callback_url,
                             options=options_from_dict(report.options), owner=report.owner or owner,
                             source=report.input)
    except QueueUnavailable as exc:
        return exc.report
