"""RQ jobs: the entry points, and nothing else. Arguments are ids only (a report id, a chunk
number, a delivery id); the database holds the rest. Each job runs in its own database session
and log tag (:func:`.runtime.job_scope`) and hands RQ only fixed-text errors; the work itself
lives in :mod:`.chunks`, :mod:`.assembly` and :mod:`reportgen.delivery.send`.

RQ stores a job by name: jobs are queued under the stable names of :mod:`.job_names`, not under
this module's path, so moving a function here does not strand the jobs already in Redis.
Jobs run in the app context that ``flask worker`` pushed before forking (the work horse inherits
it).
"""
from __future__ import annotations

from ..delivery import send
from ..ops.metrics import job_timer
from . import assembly, chunks
from .runtime import fixed_text_errors, is_final_failure, job_scope


@fixed_text_errors
def render_chunk(report_id: str, chunk: int) -> str:
    """Render a chunk's students (:func:`.chunks.render_chunk`)."""
    with job_scope(report_id), job_timer("chunk"):
        return chunks.render_chunk(report_id, chunk)


@fixed_text_errors
def render_piece(report_id: str, chunk: int, piece: int) -> str:
    """Render a further piece of one student's event log (:func:`.chunks.render_piece`)."""
    with job_scope(report_id), job_timer("piece"):
        return chunks.render_piece(report_id, chunk, piece)


@fixed_text_errors
def assemble_report(report_id: str) -> str:
    """Write the summary and the combined document (:func:`.assembly.assemble`)."""
    with job_scope(report_id), job_timer("assembly"):
        return assembly.assemble(report_id)


@fixed_text_errors
def tick() -> str:
    """Claim the subscriptions that are due and queue their runs (:func:`reportgen.subscriptions.schedule.tick`);
    queued every minute by ``rq cron reportgen.subscriptions.cron_config``."""
    from ..subscriptions.schedule import tick as claim_due

    with job_scope(None):
        return claim_due().summary()


@fixed_text_errors
def run_subscription(run_id: int) -> str:
    """Make a subscription run's reports (:func:`reportgen.subscriptions.runs.start_run`)."""
    from ..subscriptions.runs import start_run

    with job_scope(None):
        return start_run(run_id)


@fixed_text_errors
def send_subscription_emails(run_id: int, attempt: int = 0) -> str:
    """Send a subscription run's waiting emails (:func:`reportgen.subscriptions.runs.send_emails`)."""
    from ..subscriptions.runs import send_emails

    with job_scope(None):
        return send_emails(run_id, attempt)


def subscription_emails_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of a run's emails: once retries are used up (or its time), those still
    waiting failed."""
    if not is_final_failure(job, exc_value):
        return
    from ..subscriptions.runs import give_up_emails

    with job_scope(None):
        give_up_emails(job.args[0])


@fixed_text_errors
def send_delivery(delivery_id: int) -> str:
    """Send one email or webhook (:func:`reportgen.delivery.send.send`)."""
    with job_scope(None):
        return send.send(delivery_id)


def chunk_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of a chunk (or a piece of one): once its retries are used up (or its
    time), fail its unfinished students (the rest of the batch goes on) and let the report finish."""
    if not is_final_failure(job, exc_value):
        return
    report_id, chunk = job.args[:2]
    with job_scope(report_id):
        chunks.give_up_chunk(report_id, chunk, exc_type, exc_value)


def assembly_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of the assembly: record the outage once retries (or its time) are used up."""
    if not is_final_failure(job, exc_value):
        return
    with job_scope(job.args[0]):
        assembly.give_up_assembly(job.args[0], exc_type, exc_value)


def delivery_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback of a delivery: once retries are used up, the failure is final."""
    if job.should_retry:
        return
    with job_scope(job.meta.get("task_id")):
        send.give_up(job.args[0], exc_type, exc_value)
