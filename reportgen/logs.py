"""Structured logs: one JSON object per line, each carrying the ``task_id`` it concerns.

``task_id`` lives in a context variable that the API sets when it creates or looks up a
report and every job sets for the report it works on, so a report can be followed from
the request that queued it to the jobs that rendered it: ``grep '"task_id": "<id>"'``.
``request_id`` ties one submission's trail together across processes: a caller's valid
``X-Request-ID`` is kept (else one is made), answered on every response, written in every log
line of the request, stored with the report, carried in each of its jobs' RQ meta and sent with
its webhook and email (``X-Request-ID`` headers), so ``grep '"request_id": "<id>"'`` finds it all.
``REPORTGEN_LOG_FORMAT=text`` gives plain lines for a developer's terminal.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

from flask import Flask, Response, request, request_started

current_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
#: A caller's id is kept when it is 1 to 128 of these characters (what tracing systems send:
#: UUIDs, hex, base64url); anything else (spaces, quotes, control characters) is replaced.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._~:/+=@-]{1,128}")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "reportgen"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # RQ colours its messages on a terminal
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``task_id`` when known,
    ``exc_info`` when there is a traceback, then any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _TERMINAL_COLOURS.sub("", record.getMessage()),
        }
        task_id = getattr(record, "task_id", None) or current_task_id.get()
        if task_id:
            entry["task_id"] = task_id
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        return json.dumps(entry, ensure_ascii=False, default=str)


@contextlib.contextmanager
def task_context(task_id: str | None) -> Iterator[None]:
    """Tag every log line written inside the block with ``task_id``."""
    token = current_task_id.set(task_id)
    try:
        yield
    finally:
        current_task_id.reset(token)


@contextlib.contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Tag every log line written inside the block with ``request_id`` (a job's, from its meta)."""
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)


def incoming_request_id(header: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is valid, else a new one."""
    if header and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def configure(log_format: str = "json", level: int = logging.INFO) -> logging.Handler:
    """Send every logger's records to stderr through one handler (installed once, replaced on
    a second call), as JSON lines or, with ``text``, plain lines."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.name == HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.name = HANDLER_NAME
    handler.setFormatter(logging.Formatter(TEXT_FORMAT) if log_format == "text" else JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # xhtml2pdf's warnings quote the document's markup (student names) and a missing glyph is
    # already a report warning (pipeline.submit.glyph_warnings): only its errors reach the log.
    logging.getLogger("xhtml2pdf").setLevel(logging.ERROR)
    return handler


def init_app(app: Flask) -> None:
    configure(app.config["REPORTGEN_LOG_FORMAT"])

    # On request_started, before every before_request hook (the rate limit's, the guard's), so a
    # request they refuse has its id too.
    request_started.connect(start_the_request_trail, app)
    app.after_request(answer_the_request_id)


def start_the_request_trail(_app: Flask, **_extra) -> None:
    """A server thread serves many requests; each starts with no task and its own request id.
    Set, not reset: gunicorn's access line, written after the response, carries them too."""
    current_task_id.set(None)
    current_request_id.set(incoming_request_id(request.headers.get(REQUEST_ID_HEADER)))


def answer_the_request_id(response: Response) -> Response:
    request_id = current_request_id.get()
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response
