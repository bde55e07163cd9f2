"""The ``reports`` table: the single source of truth for a report's state.

What is stored is stored once, and compressed where that pays: a student's input (JSON) and its
HTML or CSV documents shrink five to ten times under zlib, a report's sequences twenty times
(130 KB to ~5 KB for 2,000 one-event students); a PDF's streams are compressed already, so a
PDF is kept as it is (:class:`Compressed` decides per value). Values written before
compression read back unchanged.
"""
from __future__ import annotations

import enum
import json
import uuid
import zlib
from datetime import datetime, timezone

from sqlalchemy import orm
from sqlalchemy.types import LargeBinary, TypeDecorator

from .extensions import db

#: Marks a compressed value; no document or JSON starts with a NUL byte.
COMPRESSED = b"\x00rgz1"

#: Preset dictionaries for values too small for zlib to find anything to share within one
#: (a one-event student's input is ~140 bytes, its metrics ~450): deflate starts from the text
#: that every such value repeats (keys, common types and the shape of a time), so a one-event
#: student's input stores in ~30 bytes instead of 115 and its metrics in ~40 instead of 216
#: (measured on 2,000 one-event students). A preset is never changed once values use it: a new
#: one gets a marker of its own, and the old stays to read what was written with it.
#: The metrics preset of revisions 0015-0022, retired by 0023, whose preset adds a period report's
#: activity: a two-event student spread over ten days stores its metrics in 112 bytes, not 231.
METRICS_V1 = (b"\x00dm", b'{"code":"returned","text":"Returned to "},{"code":"many_saves","text":" saves per '
              b'submission"},{"code":"low_time","text":" on task; the class\'s 15th percentile is "},{"code":'
              b'"late_start","text":"First event , after the class\'s 85th percentile ()"}{"events":1,"units":['
              b'{"label":"Q1","unit":"1","events":1,"types":{"(no type)":1,"submitted":1,"saved_code":1},'
              b'"visits":1,"revisits":0,"time_on_task_seconds":0,"first":"2024-07-01T00:00:00Z","last":'
              b'"2024-07-01T00:00:00Z"}],"unit_count":1,"time_on_task_seconds":0,"active_days":1,"first":'
              b'"2024-07-01T00:00:00Z","last":"2024-07-01T00:00:00Z","revisits":0,"sequence_compressed":"Q1",'
              b'"runs":[["Q1",1]],"percentile_ranks":{"events":50,"time_on_task":50,"revisits":50},"flags":[]}')
PRESETS = {
    "input": (b"\x00di", b'[{"student_id":"","namespace":"","events":[{"unit":"","type":null,"created_time":null},'
              b'{"unit":"","type":"submitted","created_time":"2025-01-01T00:00:00.000000+00:00"},{"unit":"",'
              b'"type":"saved_code","created_time":"2024-07-01T00:00:00+00:00"}]}]'),
    "metrics": (b"\x00dn", METRICS_V1[1][:-1] + b',"activity":{"per":"day","starts":["2024-07-01","2024-07-02",'
                b'"2024-07-03"],"events":[1,0,0,0,0,0,0,0,0,1],"seconds":[0,0,0,0,0,0,0,0,0,0],"class_median_events":'
                b'[1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0],"class_median_seconds":[0.0,0.0,0.0,0.0,0.0,0.0,'
                b'0.0,0.0,0.0,0.0],"active_days":2,"went_quiet":false,"quiet_span":"60 hours"}}'),
}
#: Every preset values were ever written with, by marker: a retired one still reads them.
PRESET_DICTIONARIES = {**dict(PRESETS.values()), METRICS_V1[0]: METRICS_V1[1]}
#: Values up to this size use their preset; a larger one has enough of its own to share.
PRESET_UP_TO = 4096


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Compressed(TypeDecorator):
    """Bytes stored zlib-compressed when that saves a tenth or more, else as they are; with a
    ``preset`` (a key of ``PRESETS``), a small value is deflated from that preset dictionary."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, level: int = 6, preset: str | None = None):
        super().__init__()
        self.level = level
        self.preset = preset

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if self.preset is not None and len(value) <= PRESET_UP_TO:
            marker, dictionary = PRESETS[self.preset]
            deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=dictionary)
            packed = marker + deflate.compress(value) + deflate.flush()
            return packed if len(packed) < len(value) else value
        packed = zlib.compress(value, self.level)
        return COMPRESSED + packed if len(packed) + len(COMPRESSED) < 0.9 * len(value) else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # text from before compression, as SQLite keeps it
            return value.encode("utf-8")
        value = bytes(value)
        if value.startswith(COMPRESSED):
            return zlib.decompress(value[len(COMPRESSED):])
        dictionary = PRESET_DICTIONARIES.get(value[:3])
        if dictionary is not None:
            inflate = zlib.decompressobj(-15, zdict=dictionary)
            return inflate.decompress(value[3:]) + inflate.flush()
        return value


class CompressedJSON(Compressed):
    """A JSON value (a student's metrics, a report's sequences) stored as :class:`Compressed`
    UTF-8 JSON text."""

    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return super().process_bind_param(text.encode("utf-8"), dialect)

    def process_result_value(self, value, dialect):
        if value is not None and not isinstance(value, (str, bytes, bytearray, memoryview)):
            return value  # JSON already decoded (a column from before 0007, read through the JSON type)
        value = super().process_result_value(value, dialect)
        return None if value is None else json.loads(value)


class CompressedText(Compressed):
    """Text (a student's JSON) stored as :class:`Compressed` UTF-8."""

    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else super().process_bind_param(value.encode("utf-8"), dialect)

    def process_result_value(self, value, dialect):
        value = super().process_result_value(value, dialect)
        return None if value is None else value.decode("utf-8")


class Status(str, enum.Enum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELED = "CANCELED"
    """Stopped at its owner's request before it finished: nothing is rendered or sent after."""


DONE = (Status.SUCCESS.value, Status.FAILURE.value, Status.CANCELED.value)


class Report(db.Model):
    """One requested report; its id is also the RQ job id."""

    __tablename__ = "reports"
    __table_args__ = (db.UniqueConstraint("idempotency_client", "idempotency_key", name="uq_reports_idempotency"),
                      # /metrics counts reports and sums their bytes from this index alone (migration 0012)
                      db.Index("ix_reports_metrics", "format", "status", "purged_at", "size"))

    id = db.Column(db.String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    format = db.Column(db.String(16), nullable=False)
    status = db.Column(db.String(16), nullable=False, default=Status.PENDING.value, index=True)
    input_json = orm.deferred(db.Column(db.Text))
    """Only reports stored before 0007 keep their upload here; it is stored once, per student."""
    student_count = db.Column(db.Integer, nullable=False)
    event_count = db.Column(db.Integer, nullable=False)
    student_ids = db.Column(db.JSON, nullable=False)
    namespaces = db.Column(db.JSON, nullable=False)
    progress_current = db.Column(db.Integer, nullable=False, default=0)
    progress_total = db.Column(db.Integer, nullable=False, default=0)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    error = db.Column(db.Text)
    content = orm.deferred(db.Column(Compressed()))
    content_type = db.Column(db.String(64))
    size = db.Column(db.Integer)
    sha256 = db.Column(db.String(64))
    sequences = orm.deferred(db.Column(CompressedJSON()))
    """The sequences of the JSON metadata, one value per report, compressed at level 6: level
    9 saves 1% more (of ~5 KB for 2,000 one-event students) at three times the time."""
    labels = orm.deferred(db.Column(db.JSON))
    chunk_count = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    summary = db.Column(db.JSON)
    assembly_queued_at = db.Column(db.DateTime(timezone=True))
    emails_queued_at = db.Column(db.DateTime(timezone=True))
    """When the emails of the report's upload were queued (or skipped), once its every report had
    ended; set on the upload's lead, the report that holds the emails (:func:`reportgen.pipeline.state.claim_upload_emails`)."""
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    started_at = db.Column(db.DateTime(timezone=True))
    finished_at = db.Column(db.DateTime(timezone=True))
    label = db.Column(db.String(200))
    submission_id = db.Column(db.String(36), index=True)
    #: The ``X-Request-ID`` of the request that submitted it (reportgen.logs), carried into its
    #: jobs, webhook and email.
    request_id = db.Column(db.String(128))
    base_url = db.Column(db.String(2000))
    """The scheme, host and path prefix the report was submitted to (``https://reports.example``),
    under which a worker builds its webhook's absolute links when ``REPORTGEN_PUBLIC_URL`` is unset
    (:mod:`reportgen.pipeline.status`); NULL when submitted outside a request (the CLI) or before 0016."""
    options = db.Column(db.JSON)
    input = db.Column(db.JSON)
    """What the upload was read as (:meth:`reportgen.domain.importers.common.Imported.summary`):
    its format, and the records read, used and skipped with why; NULL before 0013."""
    cohorts = orm.deferred(db.Column(db.JSON))
    warnings = db.Column(db.JSON)
    purged_at = db.Column(db.DateTime(timezone=True))
    """When the report's input and documents were deleted (it expired, or someone deleted it);
    the row stays as a tombstone, so its links answer 410 Gone."""
    purge_reason = db.Column(db.String(16))
    events_left_out = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    owner = db.Column(db.String(80), index=True)
    """The client that submitted it (reportgen.auth.clients): ``token:<id>``, ``operator`` or
    ``anonymous``; NULL for reports from before 0008."""
    idempotency_client = db.Column(db.String(80))
    """Whom ``idempotency_key`` belongs to: the token's client, or the address when tokens are off."""
    idempotency_key = db.Column(db.String(255))
    """The submit's ``Idempotency-Key`` header; cleared once older than 24 hours so the key may be reused."""
    request_digest = db.Column(db.String(64))
    """SHA-256 of the format and the raw body of a submit that came with an ``Idempotency-Key``."""

    items = orm.relationship("ReportItem", back_populates="report", order_by="ReportItem.position",
                             cascade="all, delete-orphan", passive_deletes=True, lazy="raise_on_sql")
    deliveries = orm.relationship("Delivery", back_populates="report", order_by="Delivery.id",
                                  cascade="all, delete-orphan", passive_deletes=True)
    parts = orm.relationship("ReportPart", cascade="all, delete-orphan", passive_deletes=True, lazy="raise_on_sql")

    @property
    def is_done(self) -> bool:
        return self.status in DONE


class ReportItem(db.Model):
    """One student of a report: its own input, state and document, rendered by a chunk job."""

    __tablename__ = "report_items"
    __table_args__ = (
        db.UniqueConstraint("report_id", "position"),
        db.Index("ix_report_items_report_chunk", "report_id", "chunk"),
    )

    id = db.Column(db.Integer, primary_key=True)
    report_id = db.Column(db.String(36), db.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False)
    position = db.Column(db.Integer, nullable=False)
    chunk = db.Column(db.Integer, nullable=False)
    student_id = db.Column(db.Text, nullable=False)
    namespace = db.Column(db.Text, nullable=False)
    event_count = db.Column(db.Integer, nullable=False)
    input_json = orm.deferred(db.Column(CompressedText(level=1, preset="input"), nullable=False))
    status = db.Column(db.String(16), nullable=False, default=Status.PENDING.value)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    error = db.Column(db.Text)
    content = orm.deferred(db.Column(Compressed()))
    size = db.Column(db.Integer)
    sha256 = db.Column(db.String(64))
    started_at = db.Column(db.DateTime(timezone=True))
    finished_at = db.Column(db.DateTime(timezone=True))
    metrics = orm.deferred(db.Column(CompressedJSON(preset="metrics")))
    first_page = db.Column(db.Integer)
    page_count = db.Column(db.Integer)
    pieces = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    """Into how many documents (jobs) the student's PDF is cut: 1, or more for a long event log."""

    report = orm.relationship(Report, back_populates="items")


def decode_metrics(stored: bytes | memoryview | None) -> dict | None:
    """A student's metrics from the bytes the database holds (:data:`reportgen.pipeline.reads.STORED_METRICS`)."""
    return ReportItem.__table__.c.metrics.type.process_result_value(stored, None)


class ReportPart(db.Model):
    """One chunk's document when a format renders a chunk as one (a PDF): its students'
    pages live here, and the report's document is built from the parts.

    A student cut into pieces (a long event log) has one part per piece: piece 0 is written
    by the chunk's job, and the further pieces are stored empty at submit (``content`` NULL)
    and filled by their own jobs, which count their ``attempts`` here as a chunk's job counts
    its students'."""

    __tablename__ = "report_parts"
    __table_args__ = (db.UniqueConstraint("report_id", "chunk", "piece"),)

    id = db.Column(db.Integer, primary_key=True)
    report_id = db.Column(db.String(36), db.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False)
    chunk = db.Column(db.Integer, nullable=False)
    piece = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    content = orm.deferred(db.Column(db.LargeBinary))
    size = db.Column(db.Integer)
    complete = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    started_at = db.Column(db.DateTime(timezone=True))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


class DeliveryStatus(str, enum.Enum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class DeliveryKind(str, enum.Enum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Delivery(db.Model):
    """One notification, sent by its own retried job: an email to one recipient of an upload
    (held by its lead report, sent once every report of the upload has ended and one succeeded,
    with every format that did), or the webhook of one report, POSTed to the submission's
    ``callback_url`` (whatever the outcome)."""

    __tablename__ = "deliveries"
    __table_args__ = (db.Index("ix_deliveries_metrics", "kind", "status"),)  # /metrics (migration 0012)

    id = db.Column(db.Integer, primary_key=True)
    report_id = db.Column(db.String(36), db.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = db.Column(db.String(16), nullable=False, default=DeliveryKind.EMAIL.value,
                     server_default=DeliveryKind.EMAIL.value)
    recipient = db.Column(db.String(2048), nullable=False)
    """An email address, or a webhook's URL."""
    status = db.Column(db.String(16), nullable=False, default=DeliveryStatus.QUEUED.value)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    error = db.Column(db.Text)
    message_id = db.Column(db.String(255))
    """An email's Message-ID; a webhook's ``webhook-id``, the same on every attempt."""
    status_code = db.Column(db.Integer)
    """The HTTP status of a webhook's last answer."""
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    sent_at = db.Column(db.DateTime(timezone=True))

    @property
    def is_webhook(self) -> bool:
        return self.kind == DeliveryKind.WEBHOOK.value

    report = orm.relationship(Report, back_populates="deliveries")


class SchoolClass(db.Model):
    """A class's history: the stored events of one namespace, owned by the client that stored
    them (``owner``, as a report's). Counts and the first and last event are kept here, updated
    by every append and erasure, so listing classes reads no events."""

    __tablename__ = "classes"
    __table_args__ = (db.UniqueConstraint("owner", "namespace", name="uq_classes_owner_namespace"),)

    id = db.Column(db.Integer, primary_key=True)
    owner = db.Column(db.String(80), nullable=False)
    namespace = db.Column(db.String(200), nullable=False)
    timezone = db.Column(db.String(64), nullable=False, default="UTC", server_default="UTC")
    student_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    event_count = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    first_event = db.Column(db.BigInteger)
    """Microseconds since 1970 UTC, as :class:`ClassEvent` keeps times."""
    last_event = db.Column(db.BigInteger)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    last_added_at = db.Column(db.DateTime(timezone=True))


class ClassStudent(db.Model):
    """One student of a class, with the number its events go by (``id``) and their counts."""

    __tablename__ = "class_students"
    __table_args__ = (db.UniqueConstraint("class_id", "student_id", name="uq_class_students"),)

    id = db.Column(db.Integer, primary_key=True)
    class_id = db.Column(db.Integer, db.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False)
    student_id = db.Column(db.Text, nullable=False)
    event_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    first_event = db.Column(db.BigInteger)
    last_event = db.Column(db.BigInteger)
    first_added = db.Column(db.Integer)
    """The oldest day (since 1970 UTC) one of its events was stored: what the sweeper looks at."""


class ClassName(db.Model):
    """A unit (``kind`` 0) or an event type (``kind`` 1) of a class, by the number events use."""

    __tablename__ = "class_names"
    __table_args__ = (db.UniqueConstraint("class_id", "kind", "name", name="uq_class_names"),)

    id = db.Column(db.Integer, primary_key=True)
    class_id = db.Column(db.Integer, db.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False)
    kind = db.Column(db.SmallInteger, nullable=False)
    name = db.Column(db.Text, nullable=False)


class ClassEvent(db.Model):
    """One stored event, as narrow as it can be: four numbers. ``(student, at, unit, type)`` is the
    rule for duplicates (the same student, time, unit and type is the same event). On SQLite it is
    the primary key and the table is the key itself (``WITHOUT ROWID``), so it costs no index
    beside it. ``type`` 0 is none. A duplicate appended later keeps the day it was first stored.
    On PostgreSQL the columns are stored ``at`` first (no padding), and ``student`` has no foreign
    key (its check per inserted row was most of an append's time; see migration 0021): the code
    that deletes a student deletes its events, under the class's lock. There the table has no
    primary key: the rule is the unique index ``class_events_day_key``, which starts with the
    event's UTC day, ``(at / 86400000000)::integer`` (migration 0024). Appending new days to it
    fills its pages where the old key was split in halves, and queries name the days they look in
    (:mod:`reportgen.history.event_days`). The columns stay marked as the primary key here because
    the ORM needs an identity, and Alembic does not compare primary keys. SQLite keeps the foreign
    key of migration 0013."""

    __tablename__ = "class_events"
    __table_args__ = (
        db.Index("class_events_day_key", db.text("((at / 86400000000)::integer)"), "student", "at", "unit", "type",
                 unique=True, postgresql_with={"fillfactor": 100}).ddl_if(dialect="postgresql"),
        {"sqlite_with_rowid": False},
    )

    student = db.Column(db.Integer, primary_key=True, autoincrement=False)
    at = db.Column(db.BigInteger, primary_key=True, autoincrement=False)
    unit = db.Column(db.Integer, primary_key=True, autoincrement=False)
    type = db.Column(db.Integer, primary_key=True, autoincrement=False)
    added_day = db.Column(db.Integer, nullable=False)
    """The day it was stored (days since 1970 UTC): retention counts from here, not from its time."""


class ClassEventId(db.Model):
    """The id of a stored event, where the data carried one (an xAPI statement's, a Caliper
    event's, JSON ``id``), so that the same id appended again is a duplicate whatever its time
    or unit. Kept per student as an 8-byte hash of the id (:func:`reportgen.history.store.id_hash`),
    the key being the table on SQLite (``WITHOUT ROWID``); ``added_day`` as an event's, for
    retention. Deleted with the student, and by the sweeper with its events (on PostgreSQL by that
    code alone, as ``class_events``: no foreign key there, migration 0021)."""

    __tablename__ = "class_event_ids"
    __table_args__ = {"sqlite_with_rowid": False}

    student = db.Column(db.Integer, primary_key=True, autoincrement=False)
    hash = db.Column(db.BigInteger, primary_key=True, autoincrement=False)
    added_day = db.Column(db.Integer, nullable=False)


class ClassDay(db.Model):
    """One student's events of one local day (days since 1970-01-01 in the class's zone): how
    many, the time on task between them, the first and last. Kept by
    :mod:`reportgen.history.rollup`, read by the class summary."""

    __tablename__ = "class_days"
    __table_args__ = {"sqlite_with_rowid": False}

    student = db.Column(db.Integer, db.ForeignKey("class_students.id", ondelete="CASCADE"), primary_key=True)
    day = db.Column(db.Integer, primary_key=True, autoincrement=False)
    events = db.Column(db.Integer, nullable=False)
    on_task_us = db.Column(db.BigInteger, nullable=False)
    first_at = db.Column(db.BigInteger, nullable=False)
    last_at = db.Column(db.BigInteger, nullable=False)


class ClassReport(db.Model):
    """A report made from a class's history, and the period it covers (the class summary lists them)."""

    __tablename__ = "class_reports"

    report_id = db.Column(db.String(36), db.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    class_id = db.Column(db.Integer, db.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False, index=True)
    period_start = db.Column(db.BigInteger, nullable=False)
    period_end = db.Column(db.BigInteger, nullable=False)
    student_id = db.Column(db.Text)


class RosterEntry(db.Model):
    """Who a student id of a class is: a name shown beside the id in its reports, and the address
    its own report is emailed to (``PUT /namespaces/<namespace>/roster``). Erased with the class."""

    __tablename__ = "class_roster"

    class_id = db.Column(db.Integer, db.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    student_id = db.Column(db.Text, primary_key=True)
    name = db.Column(db.Text)
    email = db.Column(db.String(254))


class Subscription(db.Model):
    """A class's reports made and emailed on their own, every month or week
    (:mod:`reportgen.subscriptions`), owned by the client that created it. ``next_due`` is the
    next run's time (microseconds since 1970 UTC) and ``next_period`` its period, so a tick finds
    what is due from an index alone."""

    __tablename__ = "subscriptions"
    __table_args__ = (db.Index("ix_subscriptions_due", "paused", "next_due"),)

    id = db.Column(db.Integer, primary_key=True)
    owner = db.Column(db.String(80), nullable=False, index=True)
    class_id = db.Column(db.Integer, db.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False, index=True)
    every = db.Column(db.String(8), nullable=False)
    day = db.Column(db.SmallInteger, nullable=False)
    time = db.Column(db.String(5), nullable=False)
    formats = db.Column(db.JSON, nullable=False)
    recipients = db.Column(db.JSON, nullable=False)
    students = db.Column(db.Boolean, nullable=False, default=False)
    skip_if_empty = db.Column(db.Boolean, nullable=False, default=True)
    options = db.Column(db.JSON)
    callback_url = db.Column(db.String(2048))
    paused = db.Column(db.Boolean, nullable=False, default=False)
    next_due = db.Column(db.BigInteger, nullable=False)
    next_period = db.Column(db.String(10), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    school_class = orm.relationship(SchoolClass, lazy="joined")


class SubscriptionRun(db.Model):
    """One period of one subscription: made at most once, which the unique key decides
    (a tick, another tick, a restarted scheduler and ``POST …/run`` all insert this row first,
    and only the one whose insert counts goes on)."""

    __tablename__ = "subscription_runs"
    __table_args__ = (db.UniqueConstraint("subscription_id", "period", name="uq_subscription_runs_period"),
                      # the tick looks for runs still queued (Redis lost them) by this index
                      db.Index("ix_subscription_runs_status", "status"))

    id = db.Column(db.Integer, primary_key=True)
    subscription_id = db.Column(db.Integer, db.ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False)
    period = db.Column(db.String(10), nullable=False)
    due = db.Column(db.BigInteger)
    """When it was due (microseconds since 1970 UTC); NULL for one asked for by ``POST …/run``."""
    trigger = db.Column(db.String(10), nullable=False)
    status = db.Column(db.String(16), nullable=False)
    reason = db.Column(db.Text)
    report_ids = db.Column(db.JSON)
    without_address = db.Column(db.JSON)
    emails_attempt = db.Column(db.Integer)
    """The newest job sending the run's emails (:func:`reportgen.pipeline.queue.subscription_emails_job_id`),
    recorded before it is queued: the sweeper resumes a run whose sender died."""
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime(timezone=True))


class SubscriptionReport(db.Model):
    """A report a run made: what tells the report's ending to look at its run."""

    __tablename__ = "subscription_reports"

    report_id = db.Column(db.String(36), db.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    run_id = db.Column(db.Integer, db.ForeignKey("subscription_runs.id", ondelete="CASCADE"), nullable=False,
                       index=True)


class SubscriptionEmail(db.Model):
    """One message of a run to one address, recorded before it is sent: the unique key makes it
    one message per recipient per run, and its status (``QUEUED`` → ``SENDING`` → ``SENT`` or
    ``FAILED``, each a conditional UPDATE) that a retried job never sends it twice."""

    __tablename__ = "subscription_emails"
    __table_args__ = (db.UniqueConstraint("run_id", "recipient", name="uq_subscription_emails_recipient"),)

    id = db.Column(db.Integer, primary_key=True)
    run_id = db.Column(db.Integer, db.ForeignKey("subscription_runs.id", ondelete="CASCADE"), nullable=False)
    recipient = db.Column(db.String(254), nullable=False)
    student_id = db.Column(db.Text)
    """The student whose own report it carries; NULL for the class report to a recipient."""
    status = db.Column(db.String(16), nullable=False, default="QUEUED")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    error = db.Column(db.Text)
    sent_at = db.Column(db.DateTime(timezone=True))
