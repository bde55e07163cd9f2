"""A report has ended: what follows once its final state (``SUCCESS``, ``FAILURE`` or
``CANCELED``) is committed. Its webhook is queued whatever the outcome and, when it was the last
report of its upload to end, the upload's emails. Called by whoever made the report final
(the assembly, a failure, a cancel, the sweeper), once: the caller's transition won.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError

from ..extensions import db
from ..models import DeliveryKind
from . import state
from .queue import enqueue_delivery
from .reads import queued_webhooks

log = logging.getLogger(__name__)


def report_ended(report_id: str) -> None:
    """Queue every notification of a report that has just reached a final state (``SUCCESS``,
    ``FAILURE`` or ``CANCELED``), once that state is committed: its webhook whatever the outcome,
    and, if it was the last report of its upload to end, the upload's emails (one message per
    recipient with every format that succeeded; skipped if none did). Called by whoever made the
    report final, once (the caller's transition won).

    If Redis refuses, the deliveries stay ``QUEUED`` and the sweeper queues them later; the
    report is never touched by its notifications."""
    hooks = db.session.scalars(queued_webhooks(report_id)).all()
    db.session.commit()
    queue_deliveries([(delivery_id, report_id, DeliveryKind.WEBHOOK.value) for delivery_id in hooks])
    queue_upload_emails(report_id)
    from ..subscriptions.runs import report_ended as subscription_report_ended

    subscription_report_ended(report_id)  # the last report of a subscription run sends its emails


def fail_report(report_id: str, message: str, **values) -> bool:
    """Fail a report that is not done yet (:func:`reportgen.pipeline.state.mark_failed`) and, if this
    call did, queue its notifications."""
    failed = state.mark_failed(report_id, message, **values)
    if failed:
        report_ended(report_id)
    return failed


def queue_upload_emails(report_id: str) -> int:
    """Queue the emails of ``report_id``'s upload if they are due now (see
    :func:`reportgen.pipeline.state.claim_upload_emails`); how many."""
    emails = state.claim_upload_emails(report_id)
    queue_deliveries([(delivery_id, lead_id, DeliveryKind.EMAIL.value) for delivery_id, lead_id in emails])
    return len(emails)


def queue_deliveries(deliveries: list[tuple[int, str, str]]) -> None:
    """Queue ``(delivery id, report id, kind)``; if Redis refuses they stay ``QUEUED`` for the sweeper."""
    try:
        for delivery_id, report_id, kind in deliveries:
            enqueue_delivery(delivery_id, report_id, kind)
    except RedisError as exc:
        log.warning("notifications could not be queued (%s), the sweeper will", type(exc).__name__)

