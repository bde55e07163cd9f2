"""What every RQ job of reportgen runs inside: its database session and log tag, and the
exceptions it may hand to RQ, whose texts are fixed (rq-dashboard shows exceptions unescaped,
and database or SMTP errors can quote user data). A lost database or Redis connection is
transient: the job is rolled back and RQ retries it with backoff; anything else fails the work
it was doing for good, with the original in the worker's log.

A job that runs out of its time (``REPORTGEN_JOB_TIMEOUT``, a delivery's own) is stopped by
:class:`OutOfTime`, which is not an ``Exception``: no ``except Exception`` on the way (a PDF
chunk that falls back to rendering its students one by one, a student's own failure) can take
it for an ordinary error and carry on past the time. A render that ran out of time would run
out of it again, so it is not retried; the students fail saying so.
"""
from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator

from flask import has_app_context
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import get_current_job
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from ..domain.submission import SubmissionError
from ..extensions import db
from ..logs import request_context, task_context
from ..models import Report
from ..ops.errortracking import capture, tag_trail

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, DisconnectionError, RedisConnectionError, RedisTimeoutError)



@contextlib.contextmanager
def job_scope(task_id: str | None) -> Iterator[None]:
    """A job's database session and log tags (its report and the request that submitted it), in
    the worker's app context. Jobs it queues carry the same request id (:mod:`.queue`)."""
    if not has_app_context():
        raise RuntimeError("reportgen jobs run in `flask --app wsgi worker`, which pushes the app context")
    try:
        request_id = job_request_id(task_id)
        tag_trail(task_id, request_id)
        with task_context(task_id), request_context(request_id):
            yield
    finally:
        db.session.remove()


def job_request_id(task_id: str | None) -> str | None:
    """The running job's request id: from its RQ meta, else (a job the sweeper queued again,
    a failure callback) the one stored with its report."""
    job = get_current_job()
    request_id = job.meta.get("request_id") if job is not None else None
    if request_id or task_id is None:
        return request_id
    return db.session.scalar(select(Report.request_id).where(Report.id == task_id))


class TransientFailure(Exception):
    """Raised to RQ for a retry. Its text is fixed: rq-dashboard shows exceptions unescaped,
    and database or SMTP errors can quote user data. ``reason`` (never shown there) is what the
    worker's one log line says went wrong, in words without personal data (a webhook's
    ``the receiver answered HTTP 503 Service Unavailable``)."""

    def __init__(self, cause: BaseException, reason: str | None = None):
        self.cause_name = type(cause).__name__
        self.reason = reason
        super().__init__(f"temporary {self.cause_name}; the job will be retried")


class JobFailed(Exception):
    """Raised to RQ in place of an unexpected error, with fixed text for the same reason; the
    original, with its traceback, goes to the worker's log."""

    def __init__(self, cause: BaseException):
        self.cause_name = type(cause).__name__
        super().__init__(f"unexpected {self.cause_name}; the details are in the worker's log")


class OutOfTime(BaseException):
    """A job ran past its time; raised by :class:`JobDeathPenalty` in the work horse."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"the job took longer than the {seconds:g} s it may take")


class JobDeathPenalty(UnixSignalDeathPenalty):
    """RQ's alarm, raising :class:`OutOfTime` when a job's time is up (its other uses, such as
    the worker's wait for its horse, raise what RQ asks for)."""

    def handle_death_penalty(self, signum, frame):
        if self._exception is JobTimeoutException:
            raise OutOfTime(self._timeout)
        super().handle_death_penalty(signum, frame)


#: What a job hands RQ on purpose, with fixed text and its cause logged already (or none to
#: log): the worker logs each in one line, without a traceback.
EXPECTED_FAILURES = (TransientFailure, JobFailed, OutOfTime)


def is_final_failure(job, exc_value: BaseException) -> bool:
    """In a failure callback: whether this failure is the job's last. Its retries are used up,
    or it ran out of time, which it would do again: RQ then retries it no more."""
    if isinstance(exc_value, OutOfTime):
        job.retries_left = 0
    return not job.should_retry


def fixed_text_errors(job: Callable[..., str]) -> Callable[..., str]:
    """Let only fixed-text exceptions reach RQ (and so rq-dashboard) from a job."""

    @functools.wraps(job)
    def run(*args):
        try:
            return job(*args)
        except (TransientFailure, JobFailed):
            raise
        except Exception as exc:
            log.exception("%s%r failed", job.__name__, args)
            capture(exc)
            raise JobFailed(exc) from None

    return run



def cause_name(exc_type, exc_value) -> str:
    """The name of what went wrong: the original's for our fixed-text exceptions."""
    return getattr(exc_value, "cause_name", exc_type.__name__)


def describe(exc: BaseException) -> str:
    """An error in plain words, with every field path for invalid data."""
    if isinstance(exc, SubmissionError):
        return f"{exc.message}: " + "; ".join(f"{path} {reason}" for path, reason in exc.details.items())
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT_ERRORS)



def rollback_and_classify(exc: BaseException) -> None:
    """Roll the job's session back after ``exc``; a lost connection is raised to RQ as a
    :class:`TransientFailure` (retried), anything else returns for the caller to fail its work."""
    db.session.rollback()
    if is_transient(exc):
        raise TransientFailure(exc) from None
