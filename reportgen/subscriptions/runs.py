"""A subscription's run: make the period's reports, wait for them without holding a worker, then
email them, each message once.

1. :func:`start_run` (a job): with ``skip_if_empty`` and no events, the run is ``skipped``.
   Otherwise it makes one class report per format through the history's period reports, each
   under an idempotency key of the run and format, so a retried job finds the report it made
   instead of making another; each is tied to the run (``subscription_reports``).
2. Nobody waits: whoever ends a report (:mod:`reportgen.pipeline.endings`) calls
   :func:`report_ended`, and the run's last report to end moves it to ``mailing`` (one
   conditional UPDATE, so once) and records its messages: one per recipient with the class
   report, and with ``students`` one per student with an address holding **only that student's
   own document** (their pages cut from the class PDF, or their own HTML or CSV), never the
   class's. Students without an address are listed in the run. Then the messages are queued.
3. :func:`send_emails` (a job on the delivery queue) sends the run's messages on one SMTP
   session, each ``QUEUED`` → ``SENDING`` before its SMTP exchange, ``SENT`` after (conditional
   UPDATEs). A retried job finds it
   ``SENDING`` or ``SENT`` and sends nothing: a message is sent at most once, and a temporary
   SMTP failure puts it back to ``QUEUED`` for RQ's retry. With ``REPORTGEN_SMTP_PER_MINUTE``
   set, a message past the minute's allowance waits, queued for the next minute rather than
   holding the worker.
4. One job at a time sends a run's emails: the run records the newest (``emails_attempt``), a
   job hands over to the next with a conditional UPDATE of it, and a job that is no longer the
   run's sender sends nothing. When a worker dies mid-run, the sweeper finds the sender's job
   dead and :func:`resume_mailing` takes over: the message that was in the SMTP exchange may or
   may not have arrived, so it fails with that reason rather than risk a second copy; the rest
   go on in a new job. A run whose last report ended in a job that died before moving the run on
   is moved on by the sweeper too (:func:`report_ended_for_run` is safe to call again).
"""
from __future__ import annotations

import logging
import time

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import exists, func, or_, select, update

from ..domain.options import options_from_dict
from ..domain.periods import parse_period
from ..extensions import db
from ..history import store as history_store
from ..history.reports import EmptyPeriod, make_period_report
from ..history.roster import addresses_of
from ..models import DONE, Report, Status, Subscription, SubscriptionEmail, SubscriptionReport, SubscriptionRun, utcnow
from ..pipeline.queue import enqueue_subscription_emails, redis_connection
from ..pipeline.runtime import TransientFailure
from ..pipeline.submit import Idempotency, KeyInUse, idempotent_report
from . import store
from .messages import MessageParts, class_message, digest, student_message

log = logging.getLogger(__name__)

#: Messages one job sends, on one SMTP session (measured: ~25 ms each for a student's pages cut
#: from a 30-student PDF and sent on loopback); the rest go on in the next job, within the job's time.
EMAILS_PER_JOB = 200

#: A message whose sender died during its SMTP exchange.
STOPPED_WHILE_SENDING = ("The worker sending it stopped during the exchange with the mail server: it may have "
                         "arrived, and it is not sent again so that nobody gets it twice.")


def _subscription_of(run: SubscriptionRun) -> Subscription:
    return db.session.get(Subscription, run.subscription_id)


def start_run(run_id: int) -> str:
    run = db.session.get(SubscriptionRun, run_id)
    if run is None or run.status != store.QUEUED:
        return "skipped"
    subscription = _subscription_of(run)
    found = subscription.school_class
    period = parse_period(run.period, found.timezone)
    if history_store.count_events(found.id, period.start_us, period.end_us) == 0:
        reason = "skipped: no events" if subscription.skip_if_empty else "no events in the period: no report to make"
        store.move_run(run_id, store.QUEUED, store.SKIPPED, reason=reason)
        return "skipped"
    options = options_from_dict(subscription.options)
    report_ids = []
    for report_format in subscription.formats:
        key = Idempotency(client=f"subscription:{subscription.id}", key=f"run-{run_id}-{report_format}", digest="")
        report = idempotent_report(key)
        if report is None:
            try:
                report = make_period_report(found, period, report_format, options, owner=subscription.owner,
                                            callback_url=subscription.callback_url, idempotency=key)
            except KeyInUse:
                report = idempotent_report(key)
            except EmptyPeriod:  # events erased since the count
                store.move_run(run_id, store.QUEUED, store.SKIPPED, reason="skipped: no events")
                return "skipped"
        db.session.execute(store.insert_ignoring_duplicates(SubscriptionReport).values(report_id=report.id,
                                                                                         run_id=run_id))
        db.session.commit()
        report_ids.append(report.id)
    store.move_run(run_id, store.QUEUED, store.RUNNING, report_ids=report_ids)
    report_ended_for_run(run_id)  # reports that ended before they were tied to the run
    return "started"


def report_ended(report_id: str) -> None:
    """A report has ended: if it was a run's last, the run's messages go out."""
    run_id = db.session.scalar(select(SubscriptionReport.run_id).where(SubscriptionReport.report_id == report_id))
    if run_id is not None:
        report_ended_for_run(run_id)


def report_ended_for_run(run_id: int) -> bool:
    """If every report of the run has ended, move it on (once, whoever calls): to ``failed`` when
    none succeeded, else to ``mailing`` with its messages queued. Whether this call moved it."""
    run = db.session.get(SubscriptionRun, run_id)
    if run is None or run.status != store.RUNNING:
        return False
    statuses = db.session.execute(select(Report.id, Report.status).join(
        SubscriptionReport, SubscriptionReport.report_id == Report.id).where(SubscriptionReport.run_id == run_id)).all()
    if len(statuses) < len(run.report_ids or ()) or any(status not in DONE for _, status in statuses):
        return False
    if not any(status == Status.SUCCESS.value for _, status in statuses):
        return store.move_run(run_id, store.RUNNING, store.FAILED, reason="no report of the run could be made")
    if not store.move_run(run_id, store.RUNNING, store.MAILING, emails_attempt=0):
        return False  # another report's ending got here first
    _record_messages(run_id)
    _queue_emails(run_id, 0)
    finish_if_sent(run_id)
    return True


def resume_mailing(run_id: int, attempt: int | None) -> bool:
    """The job sending the run's emails (``attempt``) died: take over from it, unless another
    job already has. Its message in the SMTP exchange fails (:data:`STOPPED_WHILE_SENDING`); the
    messages are recorded if it died before that; the rest are queued in a new job."""
    following = _take_over(run_id, attempt)
    if following is None:
        return False
    stopped = db.session.execute(update(SubscriptionEmail).where(SubscriptionEmail.run_id == run_id,
                                                                 SubscriptionEmail.status == "SENDING")
                                 .values(status="FAILED", error=STOPPED_WHILE_SENDING)).rowcount
    db.session.commit()
    if stopped:
        log.warning("%d subscription email(s) may or may not have arrived: their worker stopped mid-send", stopped)
    if not db.session.scalar(select(exists().where(SubscriptionEmail.run_id == run_id))):
        _record_messages(run_id)
    _queue_emails(run_id, following)
    finish_if_sent(run_id)
    return True


def _take_over(run_id: int, attempt: int | None) -> int | None:
    """Make job ``attempt + 1`` the run's sender if job ``attempt`` still is (one conditional
    UPDATE: of two callers, one wins); that job's attempt, or None if another took over. NULL,
    a run from before senders were recorded, is taken over from whatever job asks."""
    following = (attempt or 0) + 1
    moved = db.session.execute(update(SubscriptionRun).where(
        SubscriptionRun.id == run_id,
        or_(SubscriptionRun.emails_attempt.is_(None), SubscriptionRun.emails_attempt == attempt))
        .values(emails_attempt=following)).rowcount
    db.session.commit()
    return following if moved else None


def _queue_emails(run_id: int, attempt: int, delay_seconds: float = 0) -> None:
    try:
        enqueue_subscription_emails(run_id, delay_seconds=delay_seconds, attempt=attempt)
    except RedisError as exc:
        log.warning("subscription emails could not be queued (%s); the sweeper will queue them", type(exc).__name__)


def _hand_over(run_id: int, attempt: int, delay_seconds: float = 0) -> None:
    """Queue the job after this one (``delay_seconds`` later), if this one is still the sender."""
    following = _take_over(run_id, attempt)
    if following is not None:
        _queue_emails(run_id, following, delay_seconds)


def _record_messages(run_id: int) -> None:
    run = db.session.get(SubscriptionRun, run_id)
    subscription = _subscription_of(run)
    rows = [{"run_id": run_id, "recipient": recipient, "student_id": None, "status": "QUEUED", "attempts": 0}
            for recipient in subscription.recipients]
    without = []
    if subscription.students:
        addresses = addresses_of(subscription.school_class)
        taken = {recipient.casefold() for recipient in subscription.recipients}
        reported = db.session.scalar(select(Report.student_ids).where(Report.id == run.report_ids[0]))
        for student_id in reported:
            address = addresses.get(student_id)
            if address is None or address.casefold() in taken:
                without.append(student_id)
                continue
            taken.add(address.casefold())
            rows.append({"run_id": run_id, "recipient": address, "student_id": student_id, "status": "QUEUED",
                         "attempts": 0})
    for start in range(0, len(rows), 2_000):
        db.session.execute(store.insert_ignoring_duplicates(SubscriptionEmail), rows[start:start + 2_000])
    db.session.execute(update(SubscriptionRun).where(SubscriptionRun.id == run_id).values(without_address=without))
    db.session.commit()


def _claim_email(email_id: int) -> bool:
    result = db.session.execute(update(SubscriptionEmail).where(SubscriptionEmail.id == email_id,
                                                                SubscriptionEmail.status == "QUEUED")
                                .values(status="SENDING", attempts=SubscriptionEmail.attempts + 1))
    db.session.commit()
    return bool(result.rowcount)


def _record_email(email_id: int, before: str, **values) -> None:
    db.session.execute(update(SubscriptionEmail).where(SubscriptionEmail.id == email_id,
                                                       SubscriptionEmail.status == before).values(**values))
    db.session.commit()


def _has_slot() -> bool:
    """Whether the minute's allowance (``REPORTGEN_SMTP_PER_MINUTE``, all workers together,
    counted in Redis) has room for one more message."""
    limit = current_app.config["REPORTGEN_SMTP_PER_MINUTE"]
    if not limit:
        return True
    key = f"{current_app.config['REPORTGEN_QUEUE']}:smtp-minute:{int(time.time() // 60)}"
    with redis_connection().pipeline() as pipeline:
        pipeline.incr(key)
        pipeline.expire(key, 180)
        taken, _ = pipeline.execute()
    return taken <= limit


def _fail_waiting(run_id: int, error: str) -> None:
    db.session.execute(update(SubscriptionEmail).where(SubscriptionEmail.run_id == run_id,
                                                       SubscriptionEmail.status == "QUEUED")
                       .values(status="FAILED", error=error))
    db.session.commit()


def send_emails(run_id: int, attempt: int = 0) -> str:
    """Send the run's waiting messages (at most :data:`EMAILS_PER_JOB`, the rest in a job queued
    after), on one SMTP session, each claimed before it is sent. A message the server refuses
    for good fails alone; a temporary failure puts the message back and the job is retried."""
    config = current_app.config
    run = db.session.get(SubscriptionRun, run_id)
    if run is None:
        return "skipped"
    if run.emails_attempt not in (None, attempt):
        return "superseded"  # the sweeper took over from this job (its worker was thought dead)
    if not config["SMTP_HOST"]:
        _fail_waiting(run_id, "Email is not configured on this server (SMTP_HOST is unset).")
        finish_if_sent(run_id)
        return "failed"
    waiting = db.session.execute(select(SubscriptionEmail.id, SubscriptionEmail.recipient, SubscriptionEmail.student_id)
                                 .where(SubscriptionEmail.run_id == run_id, SubscriptionEmail.status == "QUEUED")
                                 .order_by(SubscriptionEmail.id).limit(EMAILS_PER_JOB + 1)).all()
    if not waiting:
        finish_if_sent(run_id)
        return "nothing to send"
    # Each message's claim and record commit; what the messages are built from was read once and
    # stays as read (expiring it reloaded the run's reports and class per message: 4 s of 100 runs).
    db.session().expire_on_commit = False
    subscription = _subscription_of(run)
    with current_app.test_request_context():  # the class summary builds its reports' links
        parts = MessageParts.of(run, subscription)
        parts.digest = digest(parts)
    from ..delivery import mail

    documents: dict = {}
    transient: BaseException | None = None
    sent = 0
    try:
        with mail.connection(config) as client:
            for email_id, recipient, student_id in waiting[:EMAILS_PER_JOB]:
                if not _has_slot():
                    _hand_over(run_id, attempt, delay_seconds=60 - time.time() % 60 + 0.5)
                    return f"sent {sent}, the rest wait for the next minute"
                try:
                    message = (student_message(parts, recipient, student_id, config["MAIL_FROM"], documents)
                               if student_id else class_message(parts, recipient, config["MAIL_FROM"]))
                except Exception as exc:  # the same message would not build on a retry either
                    log.warning("a subscription email cannot be built: %s", type(exc).__name__)
                    _record_email(email_id, "QUEUED", status="FAILED",
                                  error=f"The message could not be built: {type(exc).__name__}")
                    continue
                if not _claim_email(email_id):
                    continue
                try:
                    mail.send_with(client, message)
                except mail.PermanentDeliveryError as exc:
                    _record_email(email_id, "SENDING", status="FAILED",
                                  error=f"The mail server refused the message: {exc}")
                    continue
                except Exception as exc:
                    db.session.rollback()
                    _record_email(email_id, "SENDING", status="QUEUED",
                                  error=f"Attempt failed: {mail.describe_smtp_error(exc)}")
                    transient = exc
                    break
                _record_email(email_id, "SENDING", status="SENT", sent_at=utcnow(), error=None)
                sent += 1
    except mail.PermanentDeliveryError as exc:
        _fail_waiting(run_id, f"The mail server refused the session: {exc}")
    except Exception as exc:  # connecting, or closing the session
        db.session.rollback()
        transient = transient or exc
    finish_if_sent(run_id)
    if transient is not None:
        raise TransientFailure(transient) from None
    if len(waiting) > EMAILS_PER_JOB:
        _hand_over(run_id, attempt)
    return f"sent {sent}"


def give_up_emails(run_id: int) -> None:
    """Its retries are used up: the messages still waiting failed, with their last error."""
    db.session.rollback()
    rows = db.session.execute(select(SubscriptionEmail.id, SubscriptionEmail.attempts, SubscriptionEmail.error)
                              .where(SubscriptionEmail.run_id == run_id, SubscriptionEmail.status == "QUEUED")).all()
    for email_id, attempts, error in rows:
        _record_email(email_id, "QUEUED", status="FAILED",
                      error=f"Gave up after {attempts} attempts. Last error: {error or 'not recorded'}")
    finish_if_sent(run_id)


def finish_if_sent(run_id: int) -> None:
    """Once no message of the run waits, the run is ``done`` (all sent), ``partly failed`` or ``failed``."""
    counts = dict(db.session.execute(select(SubscriptionEmail.status, func.count())
                                     .where(SubscriptionEmail.run_id == run_id)
                                     .group_by(SubscriptionEmail.status)).all())
    if counts.get("QUEUED") or counts.get("SENDING"):
        return
    sent, failed = counts.get("SENT", 0), counts.get("FAILED", 0)
    status = store.DONE if not failed else store.PARTLY_FAILED if sent else store.FAILED
    reason = None if not failed else f"{failed} of {sent + failed} emails failed"
    run = db.session.get(SubscriptionRun, run_id)
    if run.without_address:
        reason = "; ".join(filter(None, [reason, f"{len(run.without_address)} student(s) without an address"]))
    store.move_run(run_id, store.MAILING, status, reason=reason)

