"""Every change of state of a report, a student of it and an email of it, in one place.

Each transition is a conditional UPDATE committed at once, so a job that lost a race (with
another job for the same work, or with the sweeper) changes nothing twice. The jobs
(:mod:`reportgen.pipeline.jobs`) and the sweeper (:mod:`reportgen.pipeline.sweeper`) call these and nothing
else to move state; the status page and the API only read it.

    report:  PENDING → STARTED (first chunk) → SUCCESS | FAILURE
             PENDING | STARTED → CANCELED (its owner asked; with its unfinished students)
    student: PENDING → STARTED (claimed, one attempt more) → SUCCESS | FAILURE | CANCELED
    piece:   empty → claimed (one attempt more) → stored   (a student cut into pieces
             succeeds once its chunk's document, its pages and every piece are stored)
    webhook: QUEUED → SENT | FAILED (queued when the report ends, whatever its outcome)
    email:   QUEUED → SENT | FAILED | SKIPPED (every report of its upload failed or was canceled);
             queued once, when the upload's last report ends (the lead's ``emails_queued_at``)
    data:    kept → purged (expired, or deleted on request): a tombstone stays
"""
from __future__ import annotations

from sqlalchemy import and_, delete, exists, orm, select, update

from ..extensions import db
from ..models import DONE, Delivery, DeliveryKind, DeliveryStatus, Report, ReportItem, ReportPart, Status, utcnow
from .queue import enqueue_assembly

ACTIVE = (Status.PENDING.value, Status.STARTED.value)
CANCELED_MESSAGE = "Canceled at its owner's request before it finished."


def _active(report_id):
    """The report is still being made: every write of a job's work is conditional on it, so
    nothing is written once the report is canceled (or done)."""
    return exists().where(Report.id == report_id, Report.status.in_(ACTIVE))


def _changed(statement) -> bool:
    """Run one conditional UPDATE and commit; whether it changed a row."""
    changed = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(changed)


#: What a job reads of its report, loaded in the one query that fetches the report.
_FOR_A_JOB = (orm.undefer(Report.labels), orm.undefer(Report.cohorts))


def _report_for_a_job(report_id: str) -> Report | None:
    report = db.session.get(Report, report_id, options=_FOR_A_JOB, populate_existing=True)
    return report if report is not None and report.status not in DONE else None


def start_report(report_id: str) -> Report | None:
    """Mark the report ``STARTED`` (first chunk wins) and return it, or None if it is done.

    The row is read after the commit, with what a job needs of it, so reading it costs no
    further queries (a job must not touch attributes after its next commit expires them)."""
    _changed(update(Report).where(Report.id == report_id, Report.status == Status.PENDING.value)
             .values(status=Status.STARTED.value, started_at=utcnow()))
    return _report_for_a_job(report_id)


def claim_items(item_ids: list[int]) -> set[int]:
    """Mark unfinished students ``STARTED`` (one more attempt each); the ones this job won."""
    claimed = {
        item_id for item_id in item_ids
        if db.session.execute(
            update(ReportItem).where(ReportItem.id == item_id, ReportItem.status.in_(ACTIVE))
            .values(status=Status.STARTED.value, started_at=utcnow(), attempts=ReportItem.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
    }
    db.session.commit()
    return claimed


def finish_item(item_id: int, report_id: str, *conditions, **values) -> bool:
    """Store one student's outcome and count it in the report's progress, in one transaction.

    Only an unfinished student is finished (and counted), and only if ``conditions`` hold."""
    finished = db.session.execute(
        update(ReportItem).where(ReportItem.id == item_id, ReportItem.status.in_(ACTIVE), *conditions)
        .values(finished_at=utcnow(), **values).execution_options(synchronize_session=False)
    ).rowcount
    if finished:
        db.session.execute(
            update(Report).where(Report.id == report_id).values(progress_current=Report.progress_current + 1)
        )
    db.session.commit()
    return bool(finished)


def update_item(item_id: int, **values) -> None:
    """Change a student's stored facts (where its pages are, after a re-render or before its
    further pieces are done). With nothing to change (a brief PDF student keeps no pages) there
    is no statement: an UPDATE without a column is a syntax error."""
    if values:
        _changed(update(ReportItem).where(ReportItem.id == item_id, _active(ReportItem.report_id)).values(**values))


def store_chunk_document(report_id: str, chunk: int, content: bytes, complete: bool) -> bool:
    """Replace a chunk's document while its report is still being made.

    The report's row is locked first (a no-op UPDATE), so a cancel waits for this to commit
    and then deletes the part, or this finds the report canceled and writes nothing."""
    if not db.session.execute(update(Report).where(Report.id == report_id, Report.status.in_(ACTIVE))
                              .values(status=Report.status).execution_options(synchronize_session=False)).rowcount:
        db.session.rollback()
        return False
    db.session.execute(delete(ReportPart).where(ReportPart.report_id == report_id, ReportPart.chunk == chunk,
                                                ReportPart.piece == 0))
    db.session.add(ReportPart(report_id=report_id, chunk=chunk, content=content, size=len(content), complete=complete))
    db.session.commit()
    return True


def _piece(report_id: str, chunk: int, piece: int):
    return update(ReportPart).where(ReportPart.report_id == report_id, ReportPart.chunk == chunk,
                                    ReportPart.piece == piece, ReportPart.content.is_(None), _active(report_id))


def claim_piece(report_id: str, chunk: int, piece: int) -> bool:
    """Count one more attempt at a further piece of a student; false if it is stored already."""
    return _changed(_piece(report_id, chunk, piece).values(attempts=ReportPart.attempts + 1, started_at=utcnow()))


def store_piece(report_id: str, chunk: int, piece: int, content: bytes) -> bool:
    """Store a further piece's document, once."""
    return _changed(_piece(report_id, chunk, piece).values(content=content, size=len(content)))


def finish_pieces(item_id: int, report_id: str, chunk: int) -> bool:
    """Succeed a student cut into pieces once all of them are stored: its chunk's document
    with its pages (piece 0) and every further piece. Whichever job stores the last one
    finishes it; the others change nothing."""
    part = (ReportPart.report_id == report_id, ReportPart.chunk == chunk)
    return finish_item(
        item_id, report_id, ReportItem.first_page.is_not(None),
        exists().where(*part, ReportPart.piece == 0, ReportPart.content.is_not(None)),
        ~exists().where(*part, ReportPart.content.is_(None)),
        status=Status.SUCCESS.value, error=None,
    )


def claim_assembly(report_id: str) -> bool:
    """Whether this caller finishes the report: true once, when no student is left to render
    (the conditional UPDATE lets exactly one of several finishing chunks win)."""
    unfinished = exists().where(ReportItem.report_id == report_id, ReportItem.status.in_(ACTIVE))
    return _changed(update(Report).where(Report.id == report_id, Report.status.in_(ACTIVE),
                                         Report.assembly_queued_at.is_(None), ~unfinished)
                    .values(assembly_queued_at=utcnow()))


def release_assembly(report_id: str) -> None:
    """Undo :func:`claim_assembly` (its job could not be queued), so the sweeper finds it."""
    _changed(update(Report).where(Report.id == report_id).values(assembly_queued_at=None))


def queue_assembly_if_complete(report_id: str) -> bool:
    """Claim the report's assembly and queue its job; the claim is released if Redis refuses
    (and the error raised)."""
    if not claim_assembly(report_id):
        return False
    try:
        enqueue_assembly(report_id)
    except Exception:
        release_assembly(report_id)
        raise
    return True


def begin_assembly(report_id: str) -> Report | None:
    """Count one more assembly attempt of an unfinished report and return it (None if done)."""
    if not _changed(update(Report).where(Report.id == report_id, Report.status.in_(ACTIVE))
                    .values(attempts=Report.attempts + 1)):
        return None
    return _report_for_a_job(report_id)


def summarise(items) -> dict:
    """The report's summary from its students' rows (any objects with the item's columns)."""
    succeeded = sum(item.status == Status.SUCCESS.value for item in items)
    total = len(items)
    return {
        "total": total,
        "succeeded": succeeded,
        "failed": total - succeeded,
        "success_rate": round(succeeded / total, 4) if total else 0.0,
        "students": [
            {"position": item.position, "student_id": item.student_id, "namespace": item.namespace,
             "status": item.status, "error": item.error, "size": item.size}
            for item in items
        ],
    }


def finish_report(report_id: str, item_pages: list[tuple[int, int, int]] = (), **values) -> bool:
    """Store the finished document and summary; a report already done is never overwritten.

    A paged document is stored whole, once: in the same transaction each student's pages
    (``item_pages``: item id, first page, count; none for brief students, whose own PDF is
    rendered when asked for) are set to where they lie in it, and the chunks' documents it was
    merged from are deleted."""
    finished = db.session.execute(
        update(Report).where(Report.id == report_id, Report.status.in_(ACTIVE))
        .values(status=Status.SUCCESS.value, finished_at=utcnow(), error=None, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if finished:
        if item_pages:
            db.session.execute(update(ReportItem), [{"id": item_id, "first_page": first, "page_count": count}
                                                    for item_id, first, count in item_pages])
        db.session.execute(delete(ReportPart).where(ReportPart.report_id == report_id))
    db.session.commit()
    return bool(finished)


def mark_failed(report_id: str, message: str, **values) -> bool:
    """Fail a report that is not done yet; a finished report is never overwritten. Its
    upload's emails are decided when the upload's last report ends (:func:`claim_upload_emails`)."""
    return _changed(update(Report).where(Report.id == report_id, Report.status.in_(ACTIVE))
                    .values(status=Status.FAILURE.value, error=message, finished_at=utcnow(), **values))


def skip_deliveries(report_id: str, reason: str, *, webhooks: bool = False) -> None:
    """Skip the queued emails of a report (with ``webhooks``, its webhook too: a report that
    never started because the queue was down, whose client was told so at once)."""
    kinds = [DeliveryKind.EMAIL.value] + ([DeliveryKind.WEBHOOK.value] if webhooks else [])
    _changed(update(Delivery).where(Delivery.report_id == report_id, Delivery.status == DeliveryStatus.QUEUED.value,
                                    Delivery.kind.in_(kinds))
             .values(status=DeliveryStatus.SKIPPED.value, error=reason))


def queued_emails(report_id):
    """The emails of ``report_id`` (a value, or a column to correlate with) still waiting to be sent."""
    return and_(Delivery.report_id == report_id, Delivery.kind == DeliveryKind.EMAIL.value,
                Delivery.status == DeliveryStatus.QUEUED.value)


def _upload(report_id: str, submission_id: str | None, reports=Report):
    """The reports of one upload: the form's submission (one report per format), or the report alone."""
    return reports.submission_id == submission_id if submission_id else reports.id == report_id


def claim_upload_emails(report_id: str) -> list[tuple[int, str]]:
    """The emails to queue (``(delivery id, lead id)``) now that ``report_id`` has ended: those
    of its upload, once every report of the upload has ended and one succeeded; none before,
    and none twice.

    The emails live on the upload's lead, the last report the upload created, so once the
    lead exists every report of the upload exists, and "no report of it unfinished" means the
    upload is done. Whichever report ends last claims the emails by setting the lead's
    ``emails_queued_at`` in one conditional UPDATE: of two formats finishing at once on two
    workers, the database lets exactly one win. If no report of the upload succeeded, the
    winner skips the emails instead (nothing to send)."""
    submission_id = db.session.scalar(select(Report.submission_id).where(Report.id == report_id))
    upload = _upload(report_id, submission_id)
    waiting: dict[str, list[int]] = {}  # lead id → its queued emails; nobody else moves them before the claim
    for lead_id, delivery_id in db.session.execute(
        select(Report.id, Delivery.id).join(Delivery, queued_emails(Report.id))
        .where(upload, Report.emails_queued_at.is_(None)).order_by(Delivery.id)
    ):
        waiting.setdefault(lead_id, []).append(delivery_id)
    other = orm.aliased(Report)
    unfinished = exists().where(_upload(report_id, submission_id, other), other.status.in_(ACTIVE))
    queued = []
    for lead_id, delivery_ids in waiting.items():
        if not _changed(update(Report).where(Report.id == lead_id, Report.emails_queued_at.is_(None),
                                             Report.status.in_(DONE), ~unfinished)
                        .values(emails_queued_at=utcnow())):
            continue
        outcomes = db.session.scalars(select(Report.status).where(upload)).all()
        if Status.SUCCESS.value in outcomes:
            queued += [(delivery_id, lead_id) for delivery_id in delivery_ids]
        else:
            skip_deliveries(lead_id, _nothing_to_send(outcomes))
    return queued


def _nothing_to_send(outcomes: list[str]) -> str:
    canceled = all(outcome == Status.CANCELED.value for outcome in outcomes)
    if len(outcomes) == 1:
        return f"The report {'was canceled' if canceled else 'failed'}, so there was nothing to send."
    if canceled:
        return "The upload was canceled, so there was nothing to send."
    return "No format of the upload succeeded (each failed or was canceled), so there was nothing to send."


def record_delivery(delivery_id: int, **values) -> None:
    """Record an attempt or an outcome of an email that is still this job's to send."""
    _changed(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def fail_delivery(delivery_id: int, message: str) -> bool:
    """Give up an email that is still queued; one already sent or failed stays as it is."""
    return _changed(update(Delivery).where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED.value)
                    .values(status=DeliveryStatus.FAILED.value, error=message))


def cancel_report(report_id: str) -> bool:
    """Stop a report that is not done yet, in one transaction: the report and its unfinished
    students become ``CANCELED`` and the chunks' documents made so far are deleted (its
    upload's emails are decided when the upload's last report ends). Every later write of its
    jobs is conditional on the report being active, so nothing is written after this commits
    (the caller stops the jobs themselves)."""
    canceled = db.session.execute(
        update(Report).where(Report.id == report_id, Report.status.in_(ACTIVE))
        .values(status=Status.CANCELED.value, error=CANCELED_MESSAGE, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if canceled:
        db.session.execute(update(ReportItem).where(ReportItem.report_id == report_id, ReportItem.status.in_(ACTIVE))
                           .values(status=Status.CANCELED.value, finished_at=utcnow())
                           .execution_options(synchronize_session=False))
        db.session.execute(delete(ReportPart).where(ReportPart.report_id == report_id))
    db.session.commit()
    return bool(canceled)


def purge_report(report_id: str, reason: str) -> bool:
    """Delete a finished report's input and documents, once, keeping its row as a tombstone
    (state, counts, summary, ``purged_at``) so its links can say 410 Gone and why."""
    purged = db.session.execute(
        update(Report).where(Report.id == report_id, Report.status.in_(DONE), Report.purged_at.is_(None))
        .values(purged_at=utcnow(), purge_reason=reason, content=None, input_json=None, sequences=None,
                labels=None, cohorts=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if purged:
        db.session.execute(delete(ReportPart).where(ReportPart.report_id == report_id))
        db.session.execute(delete(ReportItem).where(ReportItem.report_id == report_id))
    db.session.commit()
    return bool(purged)
