"""The statements a report's jobs read with, in one place, and their warm-up.

SQLAlchemy caches a statement's compiled form in the engine, which every forked work horse
inherits, but a horse's own cache dies with it: compiling them again in each horse was a third
of a small report's job. :func:`compile_statements` runs each of them (and each conditional
UPDATE of :mod:`reportgen.pipeline.state` a job makes) once in the worker before it forks.
"""
from __future__ import annotations

import logging

from sqlalchemy import LargeBinary, select, type_coerce
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Delivery, DeliveryKind, DeliveryStatus, ReportItem, ReportPart, Status
from . import state
from .state import ACTIVE

log = logging.getLogger(__name__)

#: What a job reads of a student it renders.
WORK = (ReportItem.id, ReportItem.position, ReportItem.status, ReportItem.input_json, ReportItem.metrics,
         ReportItem.event_count, ReportItem.pieces)


#: Where a student lies in its chunk's document, from which the assembly places it in the whole.
STUDENT_PAGES = (ReportItem.id, ReportItem.chunk, ReportItem.first_page, ReportItem.page_count, ReportItem.pieces)

#: A student's metrics as the database holds them (compressed JSON), for a process of its own to
#: decode (:func:`reportgen.models.decode_metrics`).
STORED_METRICS = type_coerce(ReportItem.metrics, LargeBinary).label("metrics")

#: How many students' rows an assembly holds at a time.
ASSEMBLY_BATCH = 100


def chunk_items(report_id: str, chunk: int, paged: bool):
    """A chunk's students to render: the unfinished ones, and for a paged format the finished too."""
    wanted = (*ACTIVE, Status.SUCCESS.value) if paged else ACTIVE
    return (select(*WORK)
            .where(ReportItem.report_id == report_id, ReportItem.chunk == chunk, ReportItem.status.in_(wanted))
            .order_by(ReportItem.position))


def unfinished_item(report_id: str, chunk: int):
    """The student of a chunk cut into pieces, while it is unfinished."""
    return select(*WORK).where(ReportItem.report_id == report_id, ReportItem.chunk == chunk,
                                ReportItem.status.in_(ACTIVE))


def item_states(report_id: str):
    """What the summary says of each student, without their inputs or documents."""
    return (select(ReportItem.position, ReportItem.student_id, ReportItem.namespace, ReportItem.status,
                   ReportItem.error, ReportItem.size)
            .where(ReportItem.report_id == report_id).order_by(ReportItem.position))


def succeeded(report_id: str, *columns):
    return (select(*columns).where(ReportItem.report_id == report_id, ReportItem.status == Status.SUCCESS.value)
            .order_by(ReportItem.position).execution_options(yield_per=ASSEMBLY_BATCH))


def part_ids(report_id: str):
    """The stored parts (id, chunk, piece) of the chunks that have a student who succeeded, in
    document order."""
    chunks = select(ReportItem.chunk).where(ReportItem.report_id == report_id,
                                            ReportItem.status == Status.SUCCESS.value)
    return (select(ReportPart.id, ReportPart.chunk, ReportPart.piece)
            .where(ReportPart.report_id == report_id, ReportPart.chunk.in_(chunks), ReportPart.content.is_not(None))
            .order_by(ReportPart.chunk, ReportPart.piece))


def part_content(part_id: int):
    return select(ReportPart.content, ReportPart.complete).where(ReportPart.id == part_id)


def queued_webhooks(report_id: str):
    """The webhook to queue when a report ends, whatever its outcome."""
    return (select(Delivery.id)
            .where(Delivery.report_id == report_id, Delivery.status == DeliveryStatus.QUEUED.value,
                   Delivery.kind == DeliveryKind.WEBHOOK.value)
            .order_by(Delivery.id))



def compile_statements() -> None:
    """Compile, in the worker before it forks, the statements a report's job runs: each runs
    once on an id no row has, so it changes nothing. A database that is down now only costs the
    horses that compile again."""
    try:
        _run_each_statement()
    except SQLAlchemyError as exc:
        log.warning("the job statements were not compiled ahead (%s); each job compiles its own", type(exc).__name__)
    finally:
        db.session.rollback()
        db.session.remove()


def _run_each_statement() -> None:
    none, missing = "warm-up:no-such-report", -1
    state.start_report(none)
    for paged in (False, True):
        db.session.execute(chunk_items(none, 0, paged)).all()
    db.session.execute(unfinished_item(none, 0)).first()
    state.claim_items([missing])
    state.claim_piece(none, 0, 1)
    state.store_piece(none, 0, 1, b"")
    state.finish_pieces(missing, none, 0)
    digest = {"content": b"", "size": 0, "sha256": ""}
    for outcome in ({"status": Status.SUCCESS.value, "error": None, **digest},
                    {"status": Status.SUCCESS.value, "error": None},
                    {"status": Status.SUCCESS.value, "error": None, "first_page": 0, "page_count": 0},
                    {"status": Status.FAILURE.value, "error": ""}):
        state.finish_item(missing, none, **outcome)
    state.update_item(missing, first_page=0, page_count=0)
    state.store_chunk_document(none, 0, b"", False)
    state.claim_assembly(none)
    state.begin_assembly(none)
    db.session.execute(item_states(none)).all()
    db.session.execute(succeeded(none, ReportItem.position, ReportItem.input_json, ReportItem.metrics)).all()
    db.session.execute(succeeded(none, ReportItem.position, ReportItem.student_id, ReportItem.namespace,
                                 STORED_METRICS)).all()
    db.session.execute(succeeded(none, ReportItem.content)).all()
    db.session.execute(part_ids(none)).all()
    db.session.execute(part_content(missing)).first()
    db.session.execute(succeeded(none, *STUDENT_PAGES)).all()
    state.finish_report(none, content=b"", content_type="", size=0, sha256="", sequences=None, summary=None)
    state.finish_report(none, content=b"", content_type="", size=0, sha256="", summary=None)  # every student succeeded
    db.session.execute(queued_webhooks(none)).all()
    state.claim_upload_emails(none)

