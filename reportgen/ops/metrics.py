"""``/metrics`` in Prometheus' text format (prometheus-client), each figure kept where it is
right for the processes that make it (README: Metrics lists them all):

- **Requests** (route, method, status; latency histogram) are counted in the web process that
  served them. gunicorn runs several, so with ``PROMETHEUS_MULTIPROC_DIR`` set (``make run``
  sets it; compose's web service too) prometheus-client's multiprocess mode keeps each
  process's figures in a file there and a scrape adds them up, whichever process answers.
- **Job durations** (chunk, piece, assembly, email, webhook) are measured in RQ's work horses,
  forked per job and possibly on other machines than the web server (compose runs workers in
  their own containers), so a horse adds its observation to a histogram kept in Redis
  (``<REPORTGEN_QUEUE>:metrics:job_seconds:<kind>``, one pipelined round trip per job).
- **Everything else is read when scraped**: reports by format and status, stored reports and
  bytes, emails and webhooks by outcome from the database (two grouped queries); queue depth,
  the age of the oldest queued job and live workers from Redis (one pipeline). These are true
  whoever restarts, so they are never counted twice or lost with a process.

Not public (:func:`allowed`): a signed-in operator, ``Authorization: Bearer
<REPORTGEN_METRICS_TOKEN>``, or a request from this machine when neither a metrics token nor an
operator password is set.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, current_app, g, request, request_finished, request_started
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..auth.credentials import sha256, token_matches
from ..auth.guards import bearer_token, request_is_exposed
from ..auth.operator import is_signed_in, sign_in_enabled
from ..errors import error_response
from ..extensions import db
from ..models import Delivery, Report
from ..pipeline.queue import finish_queue, redis_connection, report_queue

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

#: Seconds: from a health check (milliseconds) to a large synchronous upload (minutes).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: Seconds: from a one-student CSV chunk to a long assembly.
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
JOB_KINDS = ("chunk", "piece", "assembly", "email", "webhook")

REQUESTS = Histogram("reportgen_http_request_duration_seconds",
                     "Requests served, by route (the URL rule, not the path), method and status, and how long "
                     "they took in the app", ["route", "method", "status"], buckets=REQUEST_BUCKETS)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def init_app(app: Flask) -> None:
    request_started.connect(_start_timer, app)
    request_finished.connect(_count_request, app)
    app.register_blueprint(bp)


def _start_timer(_app: Flask, **_extra) -> None:
    g.reportgen_started = time.perf_counter()


def _count_request(_app: Flask, response: Response, **_extra) -> None:
    started = g.get("reportgen_started")
    if started is None:
        return
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUESTS.labels(route, request.method, str(response.status_code)).observe(time.perf_counter() - started)


def _job_key(kind: str) -> str:
    return f"{current_app.config['REPORTGEN_QUEUE']}:metrics:job_seconds:{kind}"


@contextlib.contextmanager
def job_timer(kind: str) -> Iterator[None]:
    """Time the block as one job of ``kind`` (:func:`observe_job`), however it ends."""
    started = time.perf_counter()
    try:
        yield
    finally:
        observe_job(kind, time.perf_counter() - started)


def observe_job(kind: str, seconds: float) -> None:
    """Add one job's duration to its kind's histogram in Redis (a lost observation is only logged:
    metrics never fail a job)."""
    bucket = next((str(bound) for bound in JOB_BUCKETS if seconds <= bound), "+Inf")
    try:
        with redis_connection().pipeline(transaction=False) as pipeline:
            key = _job_key(kind)
            pipeline.hincrby(key, bucket, 1)
            pipeline.hincrbyfloat(key, "sum", seconds)
            pipeline.execute()
    except RedisError as exc:
        log.warning("job duration not recorded: %s", type(exc).__name__)


def allowed() -> bool:
    token = current_app.config.get("REPORTGEN_METRICS_TOKEN")
    presented = bearer_token()
    if token and presented and token_matches(presented, [sha256(token)]):
        return True
    if sign_in_enabled() and is_signed_in():
        return True
    return not token and not sign_in_enabled() and not request_is_exposed()


class ScrapeTimeCollector:
    """The figures read from the database and Redis at each scrape."""

    def describe(self):
        return []  # else registering it would run every query once more just to learn the names

    def collect(self):
        yield from self._database()
        yield from self._redis()

    def _database(self):
        reports = GaugeMetricFamily("reportgen_reports", "Reports in the database by format and status "
                                    "(SUCCESS, FAILURE and CANCELED are final)", labels=["format", "status"])
        stored = GaugeMetricFamily("reportgen_stored_reports", "Reports whose documents are stored (not purged)")
        stored_bytes = GaugeMetricFamily("reportgen_stored_bytes", "Bytes of the stored reports' combined documents")
        deliveries = GaugeMetricFamily("reportgen_deliveries", "Emails and webhooks by outcome (SENT, FAILED, "
                                       "SKIPPED are final; QUEUED waits or retries)", labels=["kind", "status"])
        try:
            # Two scans of one covering index (ix_reports_metrics: format, status, purged_at, size)
            # in its own order, no sort: on SQLite with 100,000 reports ~14 ms each, where one
            # GROUP BY that included purged_at sorted in a temporary B-tree for 50, and one with
            # CASE sums cost more per row (bench/metrics_bench.py).
            counts = db.session.execute(select(Report.format, Report.status, func.count())
                                        .group_by(Report.format, Report.status)).all()
            kept, kept_bytes = db.session.execute(select(func.count(), func.coalesce(func.sum(Report.size), 0))
                                                  .where(Report.purged_at.is_(None))).one()
            delivery_rows = db.session.execute(
                select(Delivery.kind, Delivery.status, func.count()).group_by(Delivery.kind, Delivery.status)).all()
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("metrics: database unreadable: %s", type(exc).__name__)
            return
        for report_format, status, count in counts:
            reports.add_metric([report_format, status], count)
        stored.add_metric([], kept)
        stored_bytes.add_metric([], int(kept_bytes))
        for kind, status, count in delivery_rows:
            deliveries.add_metric([kind, status], count)
        yield from (reports, stored, stored_bytes, deliveries)

    def _redis(self):
        depth = GaugeMetricFamily("reportgen_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        oldest = GaugeMetricFamily("reportgen_queue_oldest_age_seconds",
                                   "Age of the oldest job waiting in each queue (0 when empty)", labels=["queue"])
        workers = GaugeMetricFamily("reportgen_workers_alive", "Workers registered on the report queue "
                                    "(RQ forgets a killed one after its heartbeat TTL, about 7 minutes)")
        jobs = HistogramMetricFamily("reportgen_job_duration_seconds", "How long jobs ran in the work horses, "
                                     "by kind (chunk, piece, assembly, email, webhook), successful or not",
                                     labels=["kind"])
        try:
            connection = redis_connection()
            queues = [report_queue(), finish_queue()]
            with connection.pipeline(transaction=False) as pipeline:
                for queue in queues:
                    pipeline.llen(queue.key)
                    pipeline.lindex(queue.key, 0)
                for kind in JOB_KINDS:
                    pipeline.hgetall(_job_key(kind))
                answers = pipeline.execute()
            heads = [answers[2 * number + 1] for number in range(len(queues))]
            with connection.pipeline(transaction=False) as pipeline:
                for head in heads:
                    pipeline.hget(f"rq:job:{head.decode()}", "enqueued_at") if head else pipeline.echo("")
                enqueued = pipeline.execute()
            alive = Worker.count(queue=queues[0])
        except (RedisError, RuntimeError) as exc:
            log.warning("metrics: Redis unreadable: %s", type(exc).__name__)
            return
        now = datetime.now(timezone.utc)
        for number, queue in enumerate(queues):
            depth.add_metric([queue.name], answers[2 * number])
            oldest.add_metric([queue.name], _age(enqueued[number], now))
        workers.add_metric([], alive)
        for number, kind in enumerate(JOB_KINDS):
            counts = {key.decode(): value for key, value in answers[2 * len(queues) + number].items()}
            total, buckets = 0, []
            for bound in (*JOB_BUCKETS, "+Inf"):
                total += int(counts.get(str(bound), 0))
                buckets.append((str(float(bound)) if bound != "+Inf" else "+Inf", total))
            jobs.add_metric([kind], buckets, float(counts.get("sum", 0)))
        yield from (depth, oldest, workers, jobs)


def _age(enqueued_at: bytes | None, now: datetime) -> float:
    if not enqueued_at:
        return 0.0
    try:
        moment = datetime.fromisoformat(enqueued_at.decode().replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (now - moment).total_seconds())


@bp.get("/metrics")
def metrics():
    if not allowed():
        return error_response(403, "refused: /metrics is for signed-in operators, a bearer REPORTGEN_METRICS_TOKEN, "
                                   "or this machine when neither a metrics token nor an operator password is set")
    registry = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
    registry.register(ScrapeTimeCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
