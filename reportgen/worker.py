"""The RQ worker: forks a work horse per job with fresh database connections, and sweeps.

The sweep (:mod:`reportgen.sweeper`) is one more of the worker's periodic maintenance
tasks. It runs in the worker's main process, never in a horse: the main process is the
one that outlives a job (a horse can be killed by a job timeout or the OOM killer), it
keeps running while every worker is busy with a long job (a sweep queued as a job would
wait behind it), it needs no scheduled job in Redis that a flush would lose, and it
needs no thread next to ``fork()``. The main process wakes at least every
``sweep_interval`` seconds: idle, its blocking dequeue times out that often; busy, it
heartbeats the running job every ``job_monitoring_interval`` seconds.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from rq import Worker
from rq.exceptions import StopRequested
from rq.utils import now

from .extensions import db
from .logs import task_context

log = logging.getLogger(__name__)


def heartbeat_interval(stale_after: int) -> int:
    """How often a busy worker heartbeats its job: four times within ``stale_after``, so a
    late heartbeat or two never makes a live job look dead to the sweeper."""
    return max(1, stale_after // 4)


class ReportWorker(Worker):
    """A forking worker that never shares the parent's pooled connections with a child,
    tags log lines with the job's report id and runs ``sweep`` every ``sweep_interval``."""

    def __init__(self, *args, sweep: Callable[[], object] | None = None, sweep_interval: int = 30, **kwargs):
        self.sweep = sweep
        self.sweep_interval = max(1, sweep_interval)
        self.last_swept_at: datetime | None = None
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        return min(super().dequeue_timeout, self.sweep_interval)

    @property
    def sweep_due(self) -> bool:
        return self.sweep is not None and not self.is_horse and (
            self.last_swept_at is None or now() - self.last_swept_at >= timedelta(seconds=self.sweep_interval))

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return super().should_run_maintenance_tasks or self.sweep_due

    def run_maintenance_tasks(self) -> None:
        if super().should_run_maintenance_tasks:
            super().run_maintenance_tasks()
        self.run_sweep()

    def maintain_heartbeats(self, job, execution) -> None:
        super().maintain_heartbeats(job, execution)
        self.run_sweep()

    def run_sweep(self) -> None:
        """Sweep if it is time; a failed sweep is logged and tried again next interval."""
        if not self.sweep_due:
            return
        self.last_swept_at = now()
        try:
            self.sweep()
        except StopRequested:
            raise  # a warm shutdown signalled during the sweep: RQ's loop must see it and stop
        except Exception:
            log.exception("sweep failed; retrying in %d s", self.sweep_interval)
        finally:
            db.session.remove()

    def execute_job(self, job, queue):
        with task_context(job.meta.get("task_id")):
            return super().execute_job(job, queue)

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        super().main_work_horse(job, queue)
