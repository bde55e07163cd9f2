"""Redis and RQ plumbing: one connection per app, one queue, jobs keyed by report id."""
from __future__ import annotations

from flask import Flask, current_app
from redis import Redis
from rq import Callback, Queue, Retry

GENERATE_REPORT = "reportgen.jobs.generate_report"
REPORT_FAILED = "reportgen.jobs.report_failed"


def init_app(app: Flask) -> None:
    app.extensions["reportgen.redis"] = None


def redis_connection() -> Redis:
    """The app's Redis client, created on first use from ``REDIS_URL``."""
    connection = current_app.extensions.get("reportgen.redis")
    if connection is None:
        url = current_app.config["REDIS_URL"]
        if not url:
            raise RuntimeError("REDIS_URL is not set; `make run` starts an embedded Redis for you")
        connection = Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        current_app.extensions["reportgen.redis"] = connection
    return connection


def report_queue() -> Queue:
    return Queue(current_app.config["REPORTGEN_QUEUE"], connection=redis_connection())


def enqueue_report(report_id: str) -> None:
    """Queue rendering of a committed report row; the job id is the report id.

    The description is fixed text: rq-dashboard shows it unescaped, so no user data.
    """
    config = current_app.config
    intervals = config["REPORTGEN_RETRY_INTERVALS"]
    report_queue().enqueue(
        GENERATE_REPORT,
        report_id,
        job_id=report_id,
        description="generate report",
        job_timeout=config["REPORTGEN_JOB_TIMEOUT"],
        result_ttl=config["REPORTGEN_RESULT_TTL"],
        failure_ttl=config["REPORTGEN_RESULT_TTL"],
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        on_failure=Callback(REPORT_FAILED),
    )
