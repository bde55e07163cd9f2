"""Whether the browser session belongs to a signed-in operator."""
from __future__ import annotations

import hashlib
import hmac
import time

from flask import current_app, session

SESSION_KEY = "operator"
SINCE_KEY = "operator_since"


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


def is_signed_in() -> bool:
    """Signed in with the current password less than PERMANENT_SESSION_LIFETIME ago.

    The age counts from the sign-in, not the last request: the dashboard polls, which would
    otherwise keep a forgotten tab signed in for ever.
    """
    mark, since = session.get(SESSION_KEY), session.get(SINCE_KEY)
    if not (sign_in_enabled() and isinstance(mark, str) and isinstance(since, int)):
        return False
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    return hmac.compare_digest(mark, _mark()) and 0 <= time.time() - since < lifetime


def sign_in() -> None:
    """A fresh session: nothing of the signed-out one survives (no session fixation)."""
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = _mark()
    session[SINCE_KEY] = int(time.time())


def sign_out() -> None:
    session.clear()
