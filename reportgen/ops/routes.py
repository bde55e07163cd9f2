"""``/healthz`` says the process is up; ``/readyz`` checks what a report needs to get done."""
from __future__ import annotations

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..pipeline.queue import redis_connection, report_queue

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
        return None
    except SQLAlchemyError as exc:
        db.session.rollback()
        return f"database unreachable: {type(exc).__name__}"


def _check_redis_and_workers() -> tuple[str | None, str | None]:
    try:
        redis_connection().ping()
    except (RedisError, RuntimeError) as exc:
        return f"redis unreachable: {type(exc).__name__}", "unknown: redis is down"
    try:
        workers = Worker.count(queue=report_queue())
    except RedisError as exc:
        return None, f"worker registry unreadable: {type(exc).__name__}"
    return None, None if workers else "no live worker is listening on the report queue"


@bp.get("/readyz")
def readyz():
    """200 when the database, Redis and at least one worker are up; 503 naming what is not."""
    database = _check_database()
    redis, workers = _check_redis_and_workers()
    checks = {"database": database or "ok", "redis": redis or "ok", "workers": workers or "ok"}
    down = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "ok" if not down else "unavailable", "checks": checks}
    if down:
        body["error"] = "not ready: " + ", ".join(down) + " down"
    return jsonify(body), 503 if down else 200
