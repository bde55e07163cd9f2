"""Submitting reports: the one path shared by the JSON API, the upload form and the CLI."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..render import formats
from . import state
from ..render.documents import plan
from ..domain.options import DEFAULT_OPTIONS, ReportOptions
from ..domain.preparation import PreparedUpload, prepare
from ..domain.submission import Student, parse_text, to_document
from ..extensions import db
from ..render.fonts import missing_glyphs
from .jobs import report_ended
from ..logs import current_task_id
from ..models import Delivery, DeliveryKind, DeliveryStatus, Report, ReportItem, ReportPart, Status, utcnow
from .queue import enqueue_report, report_job_ids, stop_jobs

log = logging.getLogger(__name__)


#: How long an ``Idempotency-Key`` names the report it created; after that it may be used again.
IDEMPOTENCY_WINDOW = timedelta(hours=24)

#: Students cut from one reader of a finished PDF before it is opened afresh (its parsed pages
#: stay cached in it: a 2,000-student ZIP would otherwise hold the whole document parsed).
READER_USES = 200


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


def glyph_warnings(students: list[Student]) -> list[str] | None:
    """What the PDF's fonts cannot draw, said up front rather than printed as empty boxes."""
    texts = (text for student in students
             for text in (student.student_id, student.namespace,
                          *(event.unit for event in student.events), *(event.type or "" for event in student.events)))
    missing = missing_glyphs("".join(set(texts)))
    if not missing:
        return None
    shown = " ".join(f"U+{ord(char):04X}" for char in sorted(missing)[:20])
    more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
    return [f"{len(missing)} character{'s' if len(missing) != 1 else ''} in the data cannot be drawn by the "
            f"PDF's fonts and will show as blanks: {shown}{more}."]


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
        labels=prepared.labels,
        options=prepared.options.to_dict(),
        cohorts=prepared.cohorts,
        events_left_out=prepared.events_left_out,
        owner=owner,
        idempotency_client=idempotency and idempotency.client,
        idempotency_key=idempotency and idempotency.key,
        request_digest=idempotency and idempotency.digest,
        warnings=glyph_warnings(students) if paged else None,
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


def discard_report(report: Report) -> str | None:
    """Cancel a report that is not done, or delete a done one's input and documents: what
    ``DELETE`` on the API and the status page's Cancel / Delete do. Returns ``"canceled"``,
    ``"deleted"`` or None (already deleted). The report is reloaded afterwards.

    A cancel commits first and stops the report's jobs after: from the commit on, every write of
    its jobs is refused by the database, so a job that Redis cannot stop changes nothing either.
    Its webhook announces the cancellation; its upload's email goes out without it."""
    report_id = report.id
    outcome = None
    if not report.is_done:
        pieces = db.session.execute(select(ReportItem.chunk, ReportItem.pieces)
                                    .where(ReportItem.report_id == report_id, ReportItem.pieces > 1)).all()
        job_ids = report_job_ids(report_id, report.chunk_count, [tuple(row) for row in pieces])
        if state.cancel_report(report_id):
            outcome = "canceled"
            try:
                stop_jobs(job_ids)
            except RedisError:
                log.warning("report %s canceled; its jobs could not be stopped (Redis unavailable) and will "
                            "find it canceled", report_id)
            report_ended(report_id)
    if outcome is None and state.purge_report(report_id, "deleted"):
        outcome = "deleted"
    db.session.refresh(report)
    log.info("report %s", outcome or "already deleted")
    return outcome


def stored_upload(report: Report) -> list[Student]:
    """The students of a report as they were stored (after its window), in upload order: a
    retry submits them again. Each student's input is stored once, on its own row."""
    if report.input_json is not None:  # a report stored before 0007
        return parse_text(report.input_json)
    inputs = db.session.scalars(select(ReportItem.input_json).where(ReportItem.report_id == report.id)
                                .order_by(ReportItem.position))
    return [student for text in inputs for student in parse_text(text)]


def student_document(report: Report, item: ReportItem, parts: dict | None = None) -> bytes:
    """One student's finished document: stored as it is, or cut from a paged document: its
    chunk's (and its further pieces) while the report renders, the report's own once finished
    (which then holds every page once; the chunks' documents are gone).

    ``parts`` keeps documents already read for a caller that serves many students of one
    report, such as the ZIP bundle: one chunk's pieces at a time, or a reader of the finished
    document, opened afresh every few hundred students so its parsed pages do not pile up.
    """
    report_format = formats.get(report.format)
    if item.page_count is None:
        return item.content
    parts = {} if parts is None else parts
    documents = parts.get(item.chunk)
    if documents is None and "finished" not in parts:
        chunk = db.session.scalars(
            select(ReportPart.content).where(ReportPart.report_id == report.id, ReportPart.chunk == item.chunk)
            .order_by(ReportPart.piece)
        ).all()
        if chunk:
            parts.clear()  # students come in upload order, chunk after chunk: keep one at a time
            parts[item.chunk] = documents = chunk
        elif report.content is None:  # no parts: the report finished since report and item were read
            db.session.refresh(report, ["content"])
            db.session.refresh(item)
    if documents is None:  # finished: every student is cut from the report's one document
        from ..render.html_pdf import open_pdf

        reader, served = parts.get("finished", (None, READER_USES))
        if served >= READER_USES:
            parts.clear()
            reader, served = open_pdf(report.content), 0
        parts["finished"] = (reader, served + 1)
        documents = [reader]
    return report_format.documents.student_document(None, documents, (item.first_page, item.page_count),
                                                    f"Activity report: {item.student_id}")
