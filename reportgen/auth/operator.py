"""Whether the browser session belongs to a signed-in operator.

The session cookie is signed, not stored, so on its own it would stay valid until it expires,
even after **Sign out**. Each sign-in therefore gets a random id whose record lives in the app's
Redis (expiring with the sign-in): every signed-in request needs the record, and sign-out deletes
it, so a cookie copied before sign-out opens nothing afterwards. Redis, not the database, because
the record is as short-lived as the session and Redis already backs the dashboard, the queue and
the rate limits (no migration, no table to sweep). The cookie also stays bound to the password, so
changing the password signs every session out even where a record is left.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from flask import current_app, g, session
from redis.exceptions import RedisError
from werkzeug.exceptions import ServiceUnavailable

from ..pipeline.queue import redis_connection

SESSION_KEY = "operator"
SINCE_KEY = "operator_since"
ID_KEY = "operator_session"
RECORD_PREFIX = "reportgen:operator-session:"


def admin_password() -> str:
    return current_app.config.get("REPORTGEN_ADMIN_PASSWORD") or ""


def sign_in_enabled() -> bool:
    """Sign-in (and with it the dashboard) is on only when an admin password is configured."""
    return bool(admin_password())


def _mark() -> str:
    """What a signed-in session holds: bound to the password, so changing it signs everyone out.

    Keyed with ``SECRET_KEY``, so the (signed, not encrypted) cookie tells nothing about the password.
    """
    key = current_app.secret_key
    key = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(key, b"reportgen operator\0" + admin_password().encode("utf-8"), hashlib.sha256).hexdigest()


def _record(session_id: str) -> str:
    """The Redis key of a sign-in: a digest of its id, so Redis (which the dashboard shows) holds no id."""
    return RECORD_PREFIX + hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _lifetime() -> int:
    return int(current_app.permanent_session_lifetime.total_seconds())


def _record_exists(session_id: str) -> bool:
    """Fails closed: without Redis nobody is signed in (the dashboard needs Redis anyway)."""
    try:
        return bool(redis_connection().exists(_record(session_id)))
    except RedisError as exc:
        current_app.logger.warning("operator sign-in not checked, Redis unavailable: %s", exc)
        return False


def is_signed_in() -> bool:
    """Signed in with the current password less than PERMANENT_SESSION_LIFETIME ago, and not
    signed out since. Answered once per request.

    The age counts from the sign-in, not the last request: the dashboard polls, which would
    otherwise keep a forgotten tab signed in for ever.
    """
    if "reportgen_signed_in" not in g:
        mark, since, session_id = session.get(SESSION_KEY), session.get(SINCE_KEY), session.get(ID_KEY)
        g.reportgen_signed_in = (
            sign_in_enabled() and isinstance(mark, str) and isinstance(since, int) and isinstance(session_id, str)
            and hmac.compare_digest(mark, _mark()) and 0 <= time.time() - since < _lifetime()
            and _record_exists(session_id)
        )
    return g.reportgen_signed_in


def sign_in() -> None:
    """A fresh session with a fresh id: nothing of the signed-out one survives (no session fixation)."""
    session_id = secrets.token_urlsafe(32)
    try:
        redis_connection().set(_record(session_id), "1", ex=_lifetime())
    except RedisError as exc:
        raise ServiceUnavailable("signing in needs Redis, which is not reachable; try again shortly") from exc
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = _mark()
    session[SINCE_KEY] = int(time.time())
    session[ID_KEY] = session_id
    g.pop("reportgen_signed_in", None)


def sign_out() -> None:
    """Deletes the sign-in's record before the cookie: if Redis fails, the operator sees an error
    and stays signed in (and can try again) rather than believing a copied cookie is dead."""
    session_id = session.get(ID_KEY)
    if isinstance(session_id, str):
        redis_connection().delete(_record(session_id))
    session.clear()
    g.pop("reportgen_signed_in", None)
