"""The ``reports`` table: the single source of truth for a report's state."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime, timezone

from sqlalchemy import orm

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Status(str, enum.Enum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


class Report(db.Model):
    """One requested report; its id is also the RQ job id."""

    __tablename__ = "reports"

    id = db.Column(db.String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    format = db.Column(db.String(16), nullable=False)
    status = db.Column(db.String(16), nullable=False, default=Status.PENDING.value, index=True)
    input_json = orm.deferred(db.Column(db.Text, nullable=False))
    student_count = db.Column(db.Integer, nullable=False)
    event_count = db.Column(db.Integer, nullable=False)
    student_ids = db.Column(db.JSON, nullable=False)
    namespaces = db.Column(db.JSON, nullable=False)
    progress_current = db.Column(db.Integer, nullable=False, default=0)
    progress_total = db.Column(db.Integer, nullable=False, default=0)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    error = db.Column(db.Text)
    content = orm.deferred(db.Column(db.LargeBinary))
    content_type = db.Column(db.String(64))
    size = db.Column(db.Integer)
    sha256 = db.Column(db.String(64))
    sequences = orm.deferred(db.Column(db.JSON))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    started_at = db.Column(db.DateTime(timezone=True))
    finished_at = db.Column(db.DateTime(timezone=True))
    label = db.Column(db.String(200))
    submission_id = db.Column(db.String(36), index=True)

    @property
    def is_done(self) -> bool:
        return self.status in (Status.SUCCESS.value, Status.FAILURE.value)
