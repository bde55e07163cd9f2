"""Sending one email or webhook and recording the attempt: the body of the delivery job.

Trouble sending never touches the reports. A failed attempt that may pass (a connection error,
a timeout, 429 or 5xx from a webhook receiver, a temporary SMTP error) is raised to RQ as a
:class:`~reportgen.pipeline.runtime.TransientFailure` and retried with its kind's backoff; any
other failure is final and recorded in plain words.
"""
from __future__ import annotations

import logging
import uuid

from flask import current_app, g
from sqlalchemy import select

from ..extensions import db
from ..logs import current_request_id, request_context, task_context
from ..models import Delivery, DeliveryStatus, Report, utcnow
from ..ops.metrics import job_timer
from ..pipeline import state
from ..pipeline.runtime import OutOfTime, TransientFailure, cause_name
from ..pipeline.status import report_outcome
from . import mail, webhooks

log = logging.getLogger(__name__)


def send(delivery_id: int) -> str:
    """Email an upload's reports to one recipient, or POST a report's webhook."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.QUEUED.value:
        return "skipped"
    request_id = db.session.scalar(select(Report.request_id).where(Report.id == delivery.report_id))
    with task_context(delivery.report_id), request_context(request_id), job_timer(delivery.kind):
        return _send_webhook(delivery) if delivery.is_webhook else _send_email(delivery)


def _send_webhook(delivery: Delivery) -> str:
    """Record one attempt and POST the report's outcome (what its status JSON says), signed;
    a connection error, a timeout, 429 or 5xx is retried by RQ, any other failure is final.
    The ``webhook-id`` is the same on every attempt, so a receiver can drop a duplicate."""
    delivery_id, url = delivery.id, delivery.recipient
    message_id = delivery.message_id or f"msg_{uuid.uuid4().hex}"
    attempt = delivery.attempts + 1
    report = db.session.get(Report, delivery.report_id)
    # The links of the status JSON, built outside a request: under REPORTGEN_PUBLIC_URL when it is
    # set, else under the address the report was submitted to (relative for a report without one).
    with current_app.test_request_context():
        g.link_base = report.base_url or ""
        body = current_app.json.dumps(report_outcome(report)).encode("utf-8")
    state.record_delivery(delivery_id, attempts=attempt, message_id=message_id)
    try:
        settings = webhooks.Settings.from_config(current_app.config)
    except ValueError as exc:
        state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value, error=_sentence(str(exc)))
        return "failed"
    try:
        outcome = webhooks.deliver(url, body, message_id, settings, request_id=current_request_id.get())
    except OutOfTime as exc:  # the job's own time, past the attempt's deadline (a lookup that hung)
        outcome = webhooks.Outcome(False, retry=True, error=str(exc))
    if outcome.delivered:
        state.record_delivery(delivery_id, status=DeliveryStatus.SENT.value, sent_at=utcnow(), error=None,
                              status_code=outcome.status_code)
        return "sent"
    if outcome.retry:
        state.record_delivery(delivery_id, error=f"Attempt {attempt} failed: {outcome.error}",
                              status_code=outcome.status_code)
        # An expected retry: the worker logs it in one line, with this reason (no traceback).
        raise TransientFailure(webhooks.AttemptFailed(), f"webhook attempt {attempt} failed: {outcome.error}")
    state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value, error=_sentence(outcome.error),
                          status_code=outcome.status_code)
    return "failed"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _send_email(delivery: Delivery) -> str:
    """Record one attempt and send one message with every report of the upload that succeeded
    (the delivery's report is the upload's lead); a failed attempt is retried by RQ."""
    delivery_id = delivery.id
    lead = db.session.get(Report, delivery.report_id)
    config = current_app.config
    attempt = delivery.attempts + 1
    state.record_delivery(delivery_id, attempts=attempt)
    if not config["SMTP_HOST"]:
        state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value,
                              error="Email is not configured on this server (SMTP_HOST is unset).")
        return "failed"
    try:
        message = mail.build_message(mail.upload_reports(lead), lead, delivery.recipient, config["MAIL_FROM"],
                                     config["REPORTGEN_PUBLIC_URL"], request_id=current_request_id.get())
    except mail.NothingToSend:
        state.record_delivery(delivery_id, status=DeliveryStatus.SKIPPED.value,
                              error="No report of the upload was left to send (none succeeded, or they were deleted).")
        return "skipped"
    except mail.UnbuildableMessage as exc:
        state.fail_delivery(delivery_id, f"The message could not be built: {exc}")
        log.warning("delivery %s cannot be built: %s", delivery_id, exc)
        return "failed"
    try:
        mail.send(message, config)
    except OutOfTime as exc:
        state.record_delivery(delivery_id, error=f"Attempt {attempt} failed: {exc}")
        raise TransientFailure(exc) from None
    except mail.PermanentDeliveryError as exc:
        state.record_delivery(delivery_id, status=DeliveryStatus.FAILED.value,
                              error=f"The mail server refused the message: {exc}")
        return "failed"
    except Exception as exc:
        db.session.rollback()
        reason = mail.describe_smtp_error(exc)
        state.record_delivery(delivery_id, error=f"Attempt {attempt} failed: {reason}")
        raise TransientFailure(exc, f"email attempt {attempt} failed: {reason}") from None
    state.record_delivery(delivery_id, status=DeliveryStatus.SENT.value, sent_at=utcnow(), error=None,
                          message_id=message["Message-ID"])
    return "sent"



def give_up(delivery_id: int, exc_type, exc_value) -> None:
    """Once a delivery's retries are used up, its failure is final, with its last error."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is not None:
        last_error = delivery.error or (f"unexpected {cause_name(exc_type, exc_value)}; "
                                        "the details are in the worker's log")
        state.fail_delivery(delivery.id, f"Gave up after {delivery.attempts} attempts. Last error: {last_error}")
