"""The RQ worker: forks a work horse per job with fresh database connections."""
from __future__ import annotations

from rq import Worker

from .extensions import db


class ReportWorker(Worker):
    """A forking worker that never shares the parent's pooled connections with a child."""

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        super().main_work_horse(job, queue)
