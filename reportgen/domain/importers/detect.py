"""Which format an upload is in, from its first few kilobytes.

Every upload passes through here, reportgen's own included, so detection must cost nothing
measurable: it looks at no more than :data:`HEAD_BYTES` of the start of the body and never parses
it. ``bench/intake_bench.py`` times it beside a million-event reportgen upload.

* JSON (the text starts with ``{`` or ``[``): the first of the keys that only one format uses
  decides (:data:`MARKERS`): ``student_id``, ``students``, ``events``, ``created_time`` are
  reportgen's; ``verb``, ``statements``, ``contextActivities``, ``mbox`` are xAPI's;
  ``action``, ``eventTime``, ``sensor``, ``sendTime``, ``dataVersion``, ``edApp`` are Caliper's.
  Keys come in any order, but a record's own keys come before most of what is nested deep in it.
* Text: a first line naming ``student_id`` is reportgen's CSV; one naming ``Event name`` and
  ``Description``, or a Moodle description (``The user with id '…``) near the start, is a
  Moodle log.
* Anything else is reportgen's, whose errors then say what is wrong.

A client that knows better says so (``?input=`` on the API, the form's format field).
"""
from __future__ import annotations

import re

from .common import FORMATS

HEAD_BYTES = 8192
MARKERS = {
    "student_id": "reportgen", "students": "reportgen", "events": "reportgen", "created_time": "reportgen",
    "verb": "xapi", "statements": "xapi", "contextActivities": "xapi", "mbox": "xapi", "mbox_sha1sum": "xapi",
    "action": "caliper", "eventTime": "caliper", "sensor": "caliper", "sendTime": "caliper",
    "dataVersion": "caliper", "edApp": "caliper",
}
_KEY = re.compile(r'"(' + "|".join(map(re.escape, MARKERS)) + r')"\s*:')
_MOODLE_DESCRIPTION = "The user with id '"


def detect(raw: str | bytes) -> str:
    """``reportgen``, ``xapi``, ``moodle`` or ``caliper``: what the start of ``raw`` looks like."""
    head = raw[:HEAD_BYTES]
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    head = head.lstrip("\ufeff \t\r\n")
    if head.startswith(("{", "[")):
        match = _KEY.search(head)
        return MARKERS[match.group(1)] if match else "reportgen"
    first_line = head.split("\n", 1)[0].lower()
    if "student_id" in first_line:
        return "reportgen"
    if ("event name" in first_line and "description" in first_line) or _MOODLE_DESCRIPTION in head:
        return "moodle"
    return "reportgen"


def choose(raw: str | bytes, requested: str | None = None) -> str:
    """The format to read ``raw`` as: ``requested`` (one of :data:`.common.FORMATS`) unless it
    is empty or ``auto``, else :func:`detect`'s. ValueError for an unknown name."""
    if requested in (None, "", "auto"):
        return detect(raw)
    if requested not in FORMATS:
        raise ValueError(f"must be one of auto, {', '.join(FORMATS)}, not {str(requested)[:40]!r}")
    return requested
