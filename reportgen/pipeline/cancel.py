"""Cancelling a report still being made, or deleting a finished one's data: what ``DELETE``
on the API and the status page's Cancel / Delete do, through this one function.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import select

from ..extensions import db
from ..models import Report, ReportItem
from . import state
from .endings import report_ended
from .queue import report_job_ids, stop_jobs

log = logging.getLogger(__name__)


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
