"""RQ jobs. The only argument is a report id; the database row holds everything else."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import time

from flask import Flask, current_app, has_app_context
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from .domain.report_data import build_report
from .domain.sequencing import sequence_response
from .domain.submission import parse_text
from .extensions import db
from .models import FORMATS, Report, Status, utcnow

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, DisconnectionError, RedisConnectionError, RedisTimeoutError)
PROGRESS_INTERVAL = 0.5


@functools.cache
def _standalone_app() -> Flask:
    from . import create_app

    return create_app()


def _app() -> Flask:
    """The worker's app: the one ``flask worker`` pushed, or one built from the environment."""
    if has_app_context():
        return current_app._get_current_object()
    return _standalone_app()


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT_ERRORS)


def _claim(report_id: str) -> Report | None:
    """Move the row to ``STARTED`` unless another run already finished it."""
    claimed = db.session.execute(
        update(Report)
        .where(Report.id == report_id, Report.status.in_([Status.PENDING.value, Status.STARTED.value]))
        .values(status=Status.STARTED.value, started_at=utcnow(), attempts=Report.attempts + 1,
                progress_current=0, error=None)
    ).rowcount
    db.session.commit()
    return db.session.get(Report, report_id) if claimed else None


def _progress_writer(report_id: str):
    """A callback storing ``current`` at most every ``PROGRESS_INTERVAL`` seconds, and the last one."""
    last_write = 0.0

    def write(current: int, total: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if current < total and now - last_write < PROGRESS_INTERVAL:
            return
        last_write = now
        db.session.execute(
            update(Report).where(Report.id == report_id).values(progress_current=current, progress_total=total)
        )
        db.session.commit()

    return write


def render_report(report_format: str, input_json: str, progress=None) -> tuple[bytes, dict]:
    """Render stored input into report bytes plus its sequences (no database, no Flask)."""
    from .rendering import render_html, render_pdf

    students = parse_text(input_json)
    data = build_report(students)
    if report_format == "html":
        content = render_html(data).encode("utf-8")
        if progress:
            progress(len(students), len(students))
    elif report_format == "pdf":
        content = render_pdf(data, progress=progress)
    else:
        raise ValueError(f"unknown report format {report_format!r}")
    return content, sequence_response(students)


def generate_report(report_id: str) -> str:
    """Claim, render and store one report; bad data ends in ``FAILURE``, outages are retried."""
    with _app().app_context():
        report = _claim(report_id)
        if report is None:
            log.info("report %s is already finished or gone; nothing to do", report_id)
            return "skipped"
        report_format, input_json = report.format, report.input_json
        db.session.commit()
        started = time.monotonic()
        try:
            content, sequences = render_report(report_format, input_json, _progress_writer(report_id))
        except Exception as exc:
            db.session.rollback()
            if _is_transient(exc):
                log.warning("report %s hit a transient error, will retry: %r", report_id, exc)
                raise
            log.exception("report %s failed", report_id)
            _mark_failed(report_id, f"The report could not be rendered: {type(exc).__name__}: {exc}")
            return "failed"
        db.session.execute(
            update(Report).where(Report.id == report_id).values(
                status=Status.SUCCESS.value,
                content=content,
                content_type=FORMATS[report_format],
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                sequences=sequences,
                progress_current=report.progress_total,
                finished_at=utcnow(),
                error=None,
            )
        )
        db.session.commit()
        log.info("report %s done: %d bytes in %.2f s", report_id, len(content), time.monotonic() - started)
        return "done"


def _mark_failed(report_id: str, message: str) -> None:
    db.session.execute(
        update(Report).where(Report.id == report_id).values(
            status=Status.FAILURE.value, error=message, finished_at=utcnow()
        )
    )
    db.session.commit()


def report_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: once retries are used up, record the outage on the row."""
    if job.should_retry:
        return
    with _app().app_context():
        _mark_failed(
            job.id,
            f"Gave up after repeated temporary errors ({exc_type.__name__}). "
            "The service's database or queue was unavailable; please try again.",
        )
