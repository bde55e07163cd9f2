"""The one lookup of a report by its task id, shared by every route (the API and the pages).

A task id is the UUID a report was created with (``str(uuid.uuid4())``, lower case). Anything
else, a ``%00`` or a 10,000-character path segment included, names no report: it is answered
with the route's own 404 before it reaches the database (PostgreSQL refuses a NUL in a query
parameter, which used to be a 500).

It is also where a report is private (:mod:`reportgen.auth.clients`): a report the request's
client may not see is not found either, so a task id alone opens nobody else's report.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from ..auth.clients import visible_to_client
from ..extensions import db
from ..models import Report

TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def find_report(task_id: str, *loader_options) -> Report | None:
    """The report with this task id (loaded with ``loader_options``) if the request's client
    may see it, else ``None``."""
    if not TASK_ID.fullmatch(task_id):
        return None
    return db.session.scalar(select(Report).where(Report.id == task_id, visible_to_client(Report))
                             .options(*loader_options))
