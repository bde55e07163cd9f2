"""The sweeper: finds work the database still expects but no job will do, and re-queues it.

The database is the truth and Redis only carries work, so work is lost when a worker dies
mid-job (SIGKILL, OOM, a crashed host) or Redis loses its data (flushed, restarted without
persistence). Each pass looks at every unfinished piece of work in the database and at its
job in Redis. A job is alive when it waits (queued, scheduled, deferred) or runs with a
recent heartbeat (a busy worker heartbeats its job every ``REPORTGEN_STALE_AFTER / 4``
seconds); anything else (no job, failed or stopped with no retry left, or a heartbeat
older than ``REPORTGEN_STALE_AFTER``) is dead, and the sweeper repairs:

- chunks with unfinished students: re-queued under the same job id; a student that was
  being rendered ``REPORTGEN_MAX_ATTEMPTS`` times by workers that died fails alone and
  the rest of the report goes on;
- further pieces of a student cut into pieces, still empty: re-queued alike (a piece tried
  that many times fails its student); a student whose pieces are all stored but who was
  never finished (its last job died in between) is finished;
- reports whose students are all done but whose assembly was never queued, or whose
  assembly job died: queued again (a report whose assembly started that many times fails);
- emails of an upload whose reports have all ended but that were never queued (the report
  that ended last died first): queued (or skipped, if no report succeeded); emails queued
  and webhooks (of a report that ended, however) whose job was lost: queued again;
- subscription runs: one whose reports have all ended but that was never moved on (the job
  ending its last report died first) is moved on; one whose emails' job died (its worker
  killed mid-run) is resumed by a new job (:func:`reportgen.subscriptions.runs.resume_mailing`),
  the message that was in the SMTP exchange failing rather than going twice.

It also expires old reports: ``REPORTGEN_RETENTION_DAYS`` after a report finished, its input
and documents are deleted (a few hundred reports a pass, so a sweep stays short) and its row
stays as a tombstone that answers 410 Gone.

Rows younger than ``REPORTGEN_STALE_AFTER`` are left alone, so a sweep never races a
submission that has committed its rows but not yet queued its jobs. One sweep runs at a
time (a Redis lock); every repair is a conditional UPDATE, so a job that finishes while
the sweeper looks at it changes nothing twice.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import LockError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import and_, exists, func, select

from ..domain.dates import as_utc
from ..extensions import db
from ..history.store import purge_expired
from ..logs import task_context
from ..models import (DONE, Delivery, DeliveryKind, DeliveryStatus, Report, ReportItem, ReportPart, Status,
                      SubscriptionRun, utcnow)
from .endings import fail_report, queue_upload_emails
from .queue import (DELIVERY_RETRIES, chunk_job_id, delivery_job_id, discard_job, enqueue_assembly, enqueue_chunks,
                    enqueue_delivery, enqueue_pieces, piece_job_id, redis_connection, subscription_emails_job_id)
from .state import (ACTIVE, fail_delivery, finish_item, finish_pieces, purge_report, queue_assembly_if_complete,
                    queued_emails)

log = logging.getLogger(__name__)

WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
LOCK_SECONDS = 120
#: Reports expired in one sweep at most; the next sweep goes on.
EXPIRE_BATCH = 200


@dataclass
class SweepResult:
    """What one sweep did; all zero when nothing was lost."""

    chunks_requeued: int = 0
    pieces_requeued: int = 0
    students_finished: int = 0
    students_failed: int = 0
    assemblies_queued: int = 0
    assemblies_requeued: int = 0
    reports_failed: int = 0
    deliveries_requeued: int = 0
    deliveries_failed: int = 0
    subscription_runs_resumed: int = 0
    reports_expired: int = 0
    class_events_expired: int = 0
    skipped: bool = False

    @property
    def repairs(self) -> int:
        return sum(value for key, value in asdict(self).items() if key != "skipped")

    def summary(self) -> str:
        if self.skipped:
            return "sweep: another sweep is running; nothing done"
        if not self.repairs:
            return "sweep: nothing lost"
        done = ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in asdict(self).items()
                         if value and key != "skipped")
        return f"sweep: {done}"


@dataclass(frozen=True)
class _Limits:
    fresh_after: datetime  # rows and heartbeats newer than this are left alone
    max_attempts: int
    max_delivery_attempts: dict[str, int]  # by kind
    expire_before: datetime | None  # reports finished before this have expired; None keeps them for ever


def sweep(now: datetime | None = None) -> SweepResult:
    """One pass over all unfinished work (inside an app context); see the module docstring."""
    config = current_app.config
    now = now or utcnow()
    limits = _Limits(
        fresh_after=now - timedelta(seconds=config["REPORTGEN_STALE_AFTER"]),
        max_attempts=max(1, config["REPORTGEN_MAX_ATTEMPTS"]),
        max_delivery_attempts={kind: max(config["REPORTGEN_MAX_ATTEMPTS"], 1 + len(config[setting]))
                               for kind, setting in DELIVERY_RETRIES.items()},
        expire_before=expiry_cutoff(now, config["REPORTGEN_RETENTION_DAYS"]),
    )
    lock = redis_connection().lock(f"reportgen:sweep:{config['REPORTGEN_QUEUE']}", timeout=LOCK_SECONDS,
                                   blocking=False)
    if not lock.acquire():
        return SweepResult(skipped=True)
    result = SweepResult()
    try:
        _sweep_chunks(limits, result)
        _sweep_pieces(limits, result)
        _sweep_unassembled(limits, result)
        _sweep_assemblies(limits, result)
        _sweep_deliveries(limits, result)
        _sweep_subscription_runs(limits, result)
        _expire(limits, result)
        _expire_class_events(now, config["REPORTGEN_EVENT_RETENTION_DAYS"], result)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("the sweep outlasted its %d s lock", LOCK_SECONDS)
    if result.repairs:
        log.warning("%s", result.summary(), extra={"sweep": asdict(result)})
    return result


def expiry_cutoff(now: datetime, retention_days: int) -> datetime | None:
    return now - timedelta(days=retention_days) if retention_days > 0 else None


def _expire(limits: _Limits, result: SweepResult) -> None:
    """Purge the input and documents of reports finished longer ago than the retention, a
    batch at a time; emails still queued for them are left to fail as they would."""
    if limits.expire_before is None:
        return
    report_ids = db.session.scalars(
        select(Report.id).where(Report.status.in_(DONE), Report.purged_at.is_(None),
                                Report.finished_at < limits.expire_before)
        .order_by(Report.finished_at).limit(EXPIRE_BATCH)
    ).all()
    db.session.commit()
    for report_id in report_ids:
        result.reports_expired += purge_report(report_id, "expired")


def _expire_class_events(now: datetime, retention_days: int, result: SweepResult) -> None:
    """Delete the class events stored more than ``REPORTGEN_EVENT_RETENTION_DAYS`` ago (0 keeps
    them for ever), a batch of students per sweep."""
    cutoff = expiry_cutoff(now, retention_days)
    if cutoff is not None:
        result.class_events_expired += purge_expired(cutoff)


def _fetch_jobs(job_ids: list[str]) -> dict[str, Job | None]:
    """The jobs by id, None for a missing (or half-written) one, in one round trip."""
    connection = redis_connection()
    with connection.pipeline() as pipeline:
        for job_id in job_ids:
            pipeline.hgetall(Job.key_for(job_id))
        hashes = pipeline.execute()
    jobs: dict[str, Job | None] = {}
    for job_id, data in zip(job_ids, hashes):
        job = None
        if data:
            job = Job(job_id, connection=connection)
            try:
                job.restore(data)
            except NoSuchJobError:
                job = None
        jobs[job_id] = job
    return jobs


def _is_alive(job: Job | None, limits: _Limits) -> bool:
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if status in WAITING:
        return True
    if status == JobStatus.STARTED:
        heartbeat = job.last_heartbeat or job.started_at or job.enqueued_at
        return heartbeat is not None and heartbeat > limits.fresh_after
    return False


def _times(attempts: int) -> str:
    return "once" if attempts == 1 else f"{attempts} times"


def _gave_up(attempts: int) -> str:
    return (f"The worker rendering this student stopped unexpectedly {_times(attempts)}; it was given up so that the "
            "rest of the report could finish. A very large student can run a worker out of memory.")


def _first_piece_done():
    """A student cut into pieces whose chunk's job has stored its part and its pages: the rest
    is its further pieces' work."""
    return and_(ReportItem.pieces > 1, ReportItem.first_page.is_not(None), exists().where(
        ReportPart.report_id == ReportItem.report_id, ReportPart.chunk == ReportItem.chunk,
        ReportPart.piece == 0, ReportPart.content.is_not(None)))


def _sweep_chunks(limits: _Limits, result: SweepResult) -> None:
    """Chunks of unfinished reports that still have students to render."""
    rows = db.session.execute(
        select(ReportItem.report_id, ReportItem.chunk, func.max(ReportItem.started_at))
        .join(Report, Report.id == ReportItem.report_id)
        .where(Report.status.in_(ACTIVE), Report.created_at < limits.fresh_after,
               ReportItem.status.in_(ACTIVE), ~_first_piece_done())
        .group_by(ReportItem.report_id, ReportItem.chunk)
    ).all()
    db.session.commit()
    jobs = _fetch_jobs([chunk_job_id(report_id, chunk) for report_id, chunk, _ in rows])
    for report_id, chunk, last_started in rows:
        job = jobs[chunk_job_id(report_id, chunk)]
        if _is_alive(job, limits):
            continue
        if job is None and last_started is not None and as_utc(last_started) > limits.fresh_after:
            continue  # Redis lost the record of a job that may still be running: wait until it is stale
        with task_context(report_id):
            _repair_chunk(report_id, chunk, limits, result)


def _repair_chunk(report_id: str, chunk: int, limits: _Limits, result: SweepResult) -> None:
    in_chunk = and_(ReportItem.report_id == report_id, ReportItem.chunk == chunk)
    worn_out = db.session.execute(
        select(ReportItem.id, ReportItem.attempts).where(
            in_chunk, ReportItem.status == Status.STARTED.value, ReportItem.attempts >= limits.max_attempts)
    ).all()
    for item_id, attempts in worn_out:
        if finish_item(item_id, report_id, status=Status.FAILURE.value, error=_gave_up(attempts)):
            result.students_failed += 1
            log.warning("chunk %d: a student failed after %d attempts", chunk, attempts,
                        extra={"chunk": chunk, "item_id": item_id})
    if db.session.scalar(select(exists().where(in_chunk, ReportItem.status.in_(ACTIVE)))):
        discard_job(chunk_job_id(report_id, chunk))
        enqueue_chunks(report_id, [chunk])
        result.chunks_requeued += 1
        log.warning("chunk %d re-queued: its job was lost", chunk, extra={"chunk": chunk})
    elif queue_assembly_if_complete(report_id):
        result.assemblies_queued += 1


def _sweep_pieces(limits: _Limits, result: SweepResult) -> None:
    """Further pieces of unfinished students whose job was lost, and students whose every
    piece is stored but who were never finished."""
    unfinished = exists().where(ReportItem.report_id == ReportPart.report_id, ReportItem.chunk == ReportPart.chunk,
                                ReportItem.status.in_(ACTIVE))
    rows = db.session.execute(
        select(ReportPart.report_id, ReportPart.chunk, ReportPart.piece, ReportPart.attempts, ReportPart.started_at)
        .join(Report, Report.id == ReportPart.report_id)
        .where(Report.status.in_(ACTIVE), Report.created_at < limits.fresh_after, ReportPart.content.is_(None),
               unfinished)
    ).all()
    stored = db.session.execute(
        select(ReportItem.id, ReportItem.report_id, ReportItem.chunk)
        .join(Report, Report.id == ReportItem.report_id)
        .where(Report.status.in_(ACTIVE), Report.created_at < limits.fresh_after, ReportItem.status.in_(ACTIVE),
               _first_piece_done(),
               ~exists().where(ReportPart.report_id == ReportItem.report_id, ReportPart.chunk == ReportItem.chunk,
                               ReportPart.content.is_(None)))
    ).all()
    db.session.commit()
    for item_id, report_id, chunk in stored:
        with task_context(report_id):
            if finish_pieces(item_id, report_id, chunk):
                result.students_finished += 1
                log.warning("chunk %d: a student whose pieces were all stored was finished", chunk,
                            extra={"chunk": chunk})
                queue_assembly_if_complete(report_id)
    jobs = _fetch_jobs([piece_job_id(report_id, chunk, piece) for report_id, chunk, piece, *_ in rows])
    for report_id, chunk, piece, attempts, last_started in rows:
        if _is_alive(jobs[piece_job_id(report_id, chunk, piece)], limits):
            continue
        if last_started is not None and as_utc(last_started) > limits.fresh_after:
            continue  # Redis may have lost the record of a job that is still running: wait until it is stale
        with task_context(report_id):
            if attempts >= limits.max_attempts:
                _give_up_pieces(report_id, chunk, attempts, result)
                continue
            discard_job(piece_job_id(report_id, chunk, piece))
            enqueue_pieces(report_id, [(chunk, piece)])
            result.pieces_requeued += 1
            log.warning("chunk %d piece %d re-queued: its job was lost", chunk, piece,
                        extra={"chunk": chunk, "piece": piece})


def _give_up_pieces(report_id: str, chunk: int, attempts: int, result: SweepResult) -> None:
    """Fail the student whose piece killed its workers too often; the report goes on."""
    items = db.session.scalars(select(ReportItem.id).where(
        ReportItem.report_id == report_id, ReportItem.chunk == chunk, ReportItem.status.in_(ACTIVE))).all()
    for item_id in items:
        if finish_item(item_id, report_id, status=Status.FAILURE.value, error=_gave_up(attempts)):
            result.students_failed += 1
            log.warning("chunk %d: a student failed after a piece was tried %d times", chunk, attempts,
                        extra={"chunk": chunk, "item_id": item_id})
    if queue_assembly_if_complete(report_id):
        result.assemblies_queued += 1


def _sweep_unassembled(limits: _Limits, result: SweepResult) -> None:
    """Reports whose students are all done but whose assembly was never queued (the chunk that
    finished last died, or could not reach Redis, before queueing it)."""
    report_ids = db.session.scalars(
        select(Report.id).where(
            Report.status.in_(ACTIVE), Report.created_at < limits.fresh_after, Report.assembly_queued_at.is_(None),
            ~exists().where(ReportItem.report_id == Report.id, ReportItem.status.in_(ACTIVE)))
    ).all()
    db.session.commit()
    for report_id in report_ids:
        with task_context(report_id):
            if queue_assembly_if_complete(report_id):
                result.assemblies_queued += 1
                log.warning("assembly queued: the last chunk never queued it")


def _sweep_assemblies(limits: _Limits, result: SweepResult) -> None:
    rows = db.session.execute(
        select(Report.id, Report.attempts).where(
            Report.status.in_(ACTIVE), Report.assembly_queued_at < limits.fresh_after)
    ).all()
    db.session.commit()
    jobs = _fetch_jobs([report_id for report_id, _ in rows])
    for report_id, attempts in rows:
        if _is_alive(jobs[report_id], limits):
            continue
        with task_context(report_id):
            if attempts >= limits.max_attempts:
                if fail_report(report_id, f"The worker assembling this report stopped unexpectedly "
                                          f"{_times(attempts)}; please try again, perhaps with fewer students."):
                    result.reports_failed += 1
                    log.warning("report failed: its assembly was lost %d times", attempts)
                continue
            discard_job(report_id)
            enqueue_assembly(report_id)
            result.assemblies_requeued += 1
            log.warning("assembly re-queued: its job was lost")


def _sweep_deliveries(limits: _Limits, result: SweepResult) -> None:
    _sweep_unclaimed_emails(limits, result)
    is_email = Delivery.kind == DeliveryKind.EMAIL.value
    rows = db.session.execute(
        select(Delivery.id, Delivery.report_id, Delivery.kind, Delivery.attempts, Delivery.error)
        .join(Report, Report.id == Delivery.report_id)
        .where(Delivery.status == DeliveryStatus.QUEUED.value,
               (is_email & (Report.emails_queued_at < limits.fresh_after))
               | (~is_email & Report.status.in_(DONE) & (Report.finished_at < limits.fresh_after)))
    ).all()
    db.session.commit()
    jobs = _fetch_jobs([delivery_job_id(delivery_id) for delivery_id, *_ in rows])
    for delivery_id, report_id, kind, attempts, error in rows:
        if _is_alive(jobs[delivery_job_id(delivery_id)], limits):
            continue
        with task_context(report_id):
            if attempts >= limits.max_delivery_attempts[kind]:
                message = f"Gave up after {attempts} attempts: the job sending it was lost."
                if error:
                    message += f" Last error: {error}"
                result.deliveries_failed += fail_delivery(delivery_id, message)
                continue
            discard_job(delivery_job_id(delivery_id))
            enqueue_delivery(delivery_id, report_id, kind)
            result.deliveries_requeued += 1
            log.warning("%s %d re-queued: its job was lost", kind, delivery_id, extra={"delivery_id": delivery_id})


def _sweep_subscription_runs(limits: _Limits, result: SweepResult) -> None:
    from ..subscriptions import runs, store

    running = db.session.scalars(select(SubscriptionRun.id).where(
        SubscriptionRun.status == store.RUNNING, SubscriptionRun.created_at < limits.fresh_after)).all()
    db.session.commit()
    for run_id in running:
        if runs.report_ended_for_run(run_id):
            result.subscription_runs_resumed += 1
            log.warning("subscription run %d moved on: its last report's ending was lost", run_id)
    mailing = db.session.execute(select(SubscriptionRun.id, SubscriptionRun.emails_attempt).where(
        SubscriptionRun.status == store.MAILING, SubscriptionRun.created_at < limits.fresh_after)).all()
    db.session.commit()
    senders = {run_id: subscription_emails_job_id(run_id, attempt or 0) for run_id, attempt in mailing}
    jobs = _fetch_jobs(list(senders.values()))
    for run_id, attempt in mailing:
        if _is_alive(jobs[senders[run_id]], limits) or not runs.resume_mailing(run_id, attempt):
            continue
        discard_job(senders[run_id])  # so RQ's own clean-up does not retry it beside the new one
        result.subscription_runs_resumed += 1
        log.warning("subscription run %d: its emails resumed, the job sending them was lost", run_id)


def _sweep_unclaimed_emails(limits: _Limits, result: SweepResult) -> None:
    """Emails whose upload has ended, but whose last report to end never claimed them (its
    job died in between): claimed and queued here; the claim lets only one caller win."""
    report_ids = db.session.scalars(
        select(Report.id).where(
            Report.emails_queued_at.is_(None), Report.status.in_(DONE), Report.finished_at < limits.fresh_after,
            exists().where(queued_emails(Report.id)))
    ).all()
    db.session.commit()
    for report_id in report_ids:
        with task_context(report_id):
            queued = queue_upload_emails(report_id)
            result.deliveries_requeued += queued
            if queued:
                log.warning("%d emails queued: the upload's last report never queued them", queued)
