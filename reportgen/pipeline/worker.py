"""The RQ worker: forks a work horse per job with fresh database connections, and sweeps.

The sweep (:mod:`reportgen.pipeline.sweeper`) is one more of the worker's periodic maintenance
tasks. It runs in the worker's main process, never in a horse: the main process is the
one that outlives a job (a horse can be killed by a job timeout or the OOM killer), it
keeps running while every worker is busy with a long job (a sweep queued as a job would
wait behind it), it needs no scheduled job in Redis that a flush would lose, and it
needs no thread next to ``fork()``. The main process wakes at least every
``sweep_interval`` seconds: idle, its blocking dequeue times out that often; busy, it
heartbeats the running job every ``job_monitoring_interval`` seconds.

The worker also outlives Redis. RQ's own loop quits on the first lost connection outside its
blocking dequeue (and logs every retry inside it), so one Redis restart would take every worker
down with it and leave nobody to carry on. Here every Redis call of the main process that finds
Redis gone waits for it instead (:meth:`ReportWorker.wait_for_redis`: backoff, one log line when
it is lost and one when it is back) and is then made again; a running job's horse is not
touched, so it finishes, or fails and is retried, as it would have. Redis back, the worker
registers again if Redis forgot it (a flush, a restart without persistence): it checks at every
heartbeat, so ``/readyz`` and the dashboard see it again within one heartbeat, not when its
registration would have expired.
"""
from __future__ import annotations

import functools
import gc
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker, worker_registration
from rq.exceptions import StopRequested
from rq.job_lifecycle import call_exception_handlers
from rq.utils import now

from ..extensions import db
from ..logs import task_context
from ..render import documents
from . import jobs  # noqa: F401  (loaded here, before the first fork, not in every work horse)
from .job_names import ReportJob
from .reads import compile_statements
from .runtime import EXPECTED_FAILURES, JobDeathPenalty, TransientFailure

log = logging.getLogger(__name__)

#: What a lost Redis raises in the client.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
#: Seconds between attempts to reach a lost Redis: the first wait, doubled up to the last.
RECONNECT_FIRST_WAIT = 0.5
RECONNECT_MAX_WAIT = 10.0


def heartbeat_interval(stale_after: int) -> int:
    """How often a busy worker heartbeats its job: four times within ``stale_after``, so a
    late heartbeat or two never makes a live job look dead to the sweeper."""
    return max(1, stale_after // 4)


class RedisLost(Exception):
    """A lost Redis, raised past RQ's dequeue loop (which would retry it itself, a log line an attempt)."""

    def __init__(self, cause: BaseException):
        self.cause = cause
        super().__init__(f"Redis unreachable: {type(cause).__name__}")


class OutageReportingQueue(Queue):
    """The worker's queues: a dequeue that loses Redis raises :class:`RedisLost`, so the worker's
    own :meth:`ReportWorker.wait_for_redis` handles it like every other lost call."""

    @classmethod
    def dequeue_any(cls, *args, **kwargs):
        try:
            return super().dequeue_any(*args, **kwargs)
        except REDIS_DOWN as exc:
            raise RedisLost(exc) from exc


class ReportWorker(Worker):
    """A forking worker that never shares the parent's pooled connections with a child,
    tags log lines with the job's report id, runs ``sweep`` every ``sweep_interval`` and
    waits out a lost Redis."""

    queue_class = OutageReportingQueue
    job_class = ReportJob  # finds each job by its stable name (:mod:`.job_names`)
    death_penalty_class = JobDeathPenalty  # a job out of time raises OutOfTime, which no ``except Exception`` hides

    def __init__(self, queues, *args, sweep: Callable[[], object] | None = None, sweep_interval: int = 30,
                 **kwargs):
        self.sweep = sweep
        self.sweep_interval = max(1, sweep_interval)
        self.last_swept_at: datetime | None = None
        super().__init__([queue.name if isinstance(queue, Queue) else queue for queue in queues], *args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        """Idle, the worker wakes (and heartbeats) as often as it heartbeats a job, and sweeps."""
        return min(super().dequeue_timeout, self.sweep_interval, self.job_monitoring_interval)

    @property
    def sweep_due(self) -> bool:
        return self.sweep is not None and not self.is_horse and (
            self.last_swept_at is None or now() - self.last_swept_at >= timedelta(seconds=self.sweep_interval))

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return super().should_run_maintenance_tasks or self.sweep_due

    def run_maintenance_tasks(self) -> None:
        if super().should_run_maintenance_tasks:
            self.through_outages(super().run_maintenance_tasks)
        self.run_sweep()

    def maintain_heartbeats(self, job, execution) -> None:
        self.through_outages(super().maintain_heartbeats, job, execution)
        self.through_outages(self.register_again_if_forgotten)
        self.run_sweep()

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if pipeline is not None:  # part of a larger write, whose caller handles a lost Redis
            super().heartbeat(timeout, pipeline)
            return
        self.through_outages(super().heartbeat, timeout)
        self.through_outages(self.register_again_if_forgotten)

    def set_state(self, state: str, pipeline=None) -> None:
        if pipeline is not None:
            super().set_state(state, pipeline)
        else:
            self.through_outages(super().set_state, state)

    def check_for_suspension(self, burst: bool) -> None:
        self.through_outages(super().check_for_suspension, burst)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        return self.through_outages(super().dequeue_job_and_maintain_ttl, timeout, max_idle_time)

    def through_outages(self, call: Callable, *args):
        """``call(*args)``, made again after waiting for Redis as often as it finds Redis gone."""
        while True:
            try:
                return call(*args)
            except REDIS_DOWN as exc:
                self.wait_for_redis(exc)
            except RedisLost as lost:
                self.wait_for_redis(lost.cause)

    def wait_for_redis(self, cause: BaseException) -> None:
        """Block until Redis answers again, pinging with backoff; one log line when it is lost,
        one when it is back. A stop signal meanwhile stops the worker as usual."""
        lost_at = time.monotonic()
        log.warning("Redis is unreachable (%s: %s); waiting for it, trying again every %g s at most",
                    type(cause).__name__, cause, RECONNECT_MAX_WAIT)
        wait = RECONNECT_FIRST_WAIT
        while True:
            time.sleep(wait)
            try:
                self.connection.ping()
                break
            except REDIS_DOWN:
                wait = min(wait * 2, RECONNECT_MAX_WAIT)
        log.info("Redis is reachable again after %.0f s; carrying on", time.monotonic() - lost_at)
        self.restart_scheduler()

    def restart_scheduler(self) -> None:
        """RQ's scheduler process (which queues retries) dies with Redis; RQ itself would start
        it again only at its next maintenance, up to ten minutes later."""
        scheduler = self.scheduler
        if self.is_horse or scheduler is None:
            return
        if scheduler._process is None or not scheduler._process.is_alive():
            self.through_outages(functools.partial(scheduler.acquire_locks, auto_start=True))

    def register_again_if_forgotten(self) -> None:
        """Register again when Redis no longer lists this worker (flushed, or restarted empty)."""
        if self.is_horse or self.connection.sismember(self.redis_workers_keys, self.key):
            return
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping={**self.serialize(), "state": self.get_state()})
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()
        log.warning("Redis had forgotten this worker (flushed or restarted empty); it is registered again")

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_DOWN as exc:
            log.warning("Redis is unreachable while the worker stops (%s); its registration expires by itself",
                        type(exc).__name__)

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread) -> None:
        """RQ's command listener logs a lost Redis every 2 s; the main loop reports the outage once."""
        if isinstance(exc, RedisConnectionError):
            time.sleep(2.0)
        else:
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

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
        """Run the job in a horse; if Redis is lost before the horse starts or while its outcome is
        recorded, the job runs again once Redis is back (jobs are idempotent: the database knows
        what is done)."""
        with task_context(job.meta.get("task_id")):
            return self.through_outages(self._execute_afresh, job, queue)

    def _execute_afresh(self, job, queue):
        self.executions.clear()  # one job at a time: only an attempt that lost Redis can have left one
        return super().execute_job(job, queue)

    def handle_exception(self, job, *exc_info) -> None:
        """A failure a job raised on purpose (retried, or failed with its reason already logged)
        is one line in the log, not a traceback; RQ logs anything else as it does."""
        if not isinstance(exc_info[1], EXPECTED_FAILURES):
            super().handle_exception(job, *exc_info)
            return
        failure = exc_info[1]
        if isinstance(failure, TransientFailure):  # called before RQ counts the retry: retries_left includes it
            left = job.retries_left or 0
            log.warning("job %s (%s): %s; %s", job.id, job.description,
                        failure.reason or f"temporary {failure.cause_name}",
                        f"retrying, up to {left} more attempt{'s' if left != 1 else ''}" if left
                        else "no retries left")
        else:
            log.warning("job %s (%s): %s", job.id, job.description, failure)
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        super().main_work_horse(job, queue)


def prepare_horses(deliveries: bool = False) -> None:
    """Before the first fork, so every work horse starts warm: the jobs' modules imported
    (jobs.py imports the subscription ones lazily: a cycle), and for a report worker the
    renderer with its fonts and templates loaded and the jobs' SQL compiled (a delivery's horse
    renders nothing); all of it frozen out of the garbage collector (a horse's first collection
    would otherwise touch, and so copy, every page of it)."""
    from ..subscriptions import runs, schedule  # noqa: F401

    if not deliveries:
        documents.warm_up()
        compile_statements()
    gc.freeze()
