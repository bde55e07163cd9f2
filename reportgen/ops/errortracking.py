"""Error tracking: with ``SENTRY_DSN`` set, unhandled errors of the web app and of jobs go to
Sentry (sentry-sdk with its Flask and RQ integrations), tagged with the ``request_id`` and the
``task_id`` (reportgen.logs) so an event leads to the log lines of the same trail.

No personal data leaves: ``send_default_pii`` is off, frames carry no local variables, and
:func:`scrub` removes what could still quote a student or a teacher — request bodies, cookies,
query strings and headers other than a few harmless ones, the user, exception messages (a
parser's or a database's error can quote the data; the type and the stack stay), and any email
address left in what remains. A job's error reaches Sentry as the original exception, with RQ's
job context (ids and fixed descriptions only); the fixed-text errors RQ itself is handed
(:mod:`reportgen.pipeline.runtime`) are dropped, since each would only repeat that event.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app

from ..logs import current_request_id, current_task_id

EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[A-Za-z]{2,}")
SAFE_HEADERS = frozenset({"Accept", "Content-Type", "Content-Length", "User-Agent", "X-Request-ID"})
#: Exceptions raised to RQ in place of the original (fixed text); their events repeat its event.
REPEATS = ("JobFailed", "TransientFailure")


def init_app(app: Flask) -> None:
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(dsn=dsn, environment=app.config.get("SENTRY_ENVIRONMENT") or None,
                    integrations=[FlaskIntegration(), RqIntegration()], send_default_pii=False,
                    include_local_variables=False, max_request_body_size="never", before_send=scrub,
                    before_send_transaction=scrub, traces_sample_rate=0)


def _reporting() -> bool:
    """Whether this app reports to Sentry (``init_app`` set it up only with ``SENTRY_DSN``)."""
    return bool(current_app.config.get("SENTRY_DSN"))


def tag_trail(task_id: str | None, request_id: str | None) -> None:
    """Tag what Sentry captures from here on in this scope (a job's horse, a request) with the
    trail's ids; kept after the job's log scope ends, for the error RQ reports after it. Nothing
    without ``SENTRY_DSN``: importing sentry-sdk in a work horse that never reports cost every job
    ~28 ms (py-spy of a delivery worker, 100 subscription runs)."""
    if not _reporting():
        return
    import sentry_sdk

    if task_id:
        sentry_sdk.set_tag("task_id", task_id)
    if request_id:
        sentry_sdk.set_tag("request_id", request_id)


def capture(exc: BaseException) -> None:
    """Send a job's original exception (a no-op without ``SENTRY_DSN``)."""
    if not _reporting():
        return
    import sentry_sdk

    sentry_sdk.capture_exception(exc)


def _without_emails(value: Any) -> Any:
    if isinstance(value, str):
        return EMAIL.sub("[email]", value)
    if isinstance(value, dict):
        return {key: _without_emails(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_emails(item) for item in value]
    return value


def scrub(event: dict, hint: dict) -> dict | None:
    """Sentry's ``before_send``: tag the trail, drop repeats, strip what could be personal."""
    exc_info = hint.get("exc_info") if hint else None
    if exc_info and type(exc_info[1]).__name__ in REPEATS:
        return None
    tags = event.setdefault("tags", {})
    if current_request_id.get():
        tags.setdefault("request_id", current_request_id.get())
    if current_task_id.get():
        tags.setdefault("task_id", current_task_id.get())
    event.pop("user", None)
    request = event.get("request")
    if request:
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        request["headers"] = {name: value for name, value in (request.get("headers") or {}).items()
                              if name in SAFE_HEADERS}
    for exception in (event.get("exception") or {}).get("values") or []:
        exception["value"] = ""
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    for key in ("logentry", "message"):
        if isinstance(event.get(key), dict):
            event[key].pop("params", None)
    return _without_emails(event)
