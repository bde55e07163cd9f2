"""Per-client rate limits (Flask-Limiter, counted in the app's Redis so every process shares them).

A client is its API token once the token is verified, else its IP address: a header anyone can
make up must never buy a fresh budget. Sign-in attempts count per address whatever comes with
them, and every submit endpoint draws on one submission budget. Limits are checked before
anything else, so refused requests (a wrong token, a signed-out browser) count too. Each app
gets its own Limiter: Flask-Limiter keeps its storage on the instance, and tests build many
apps in one process.
"""
from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import Limiter

from .auth.guards import verified_token_digest

REQUEST_BUDGET = "REPORTGEN_RATE_LIMIT"
SUBMISSION_BUDGET = "REPORTGEN_SUBMIT_RATE_LIMIT"
SIGNIN_BUDGET = "REPORTGEN_SIGNIN_RATE_LIMIT"


def address_key() -> str:
    return "ip:" + (request.remote_addr or "unknown")


def client_key() -> str:
    """A verified bearer token's digest (never the token itself), else the address."""
    digest = verified_token_digest()
    return "token:" + digest.hex()[:32] if digest else address_key()


def storage_uri(redis_url: str) -> str:
    """limits spells Redis over a unix socket ``redis+unix://``; no Redis means per-process memory."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def _budget(setting: str):
    def limit() -> str:
        return current_app.config[setting]

    def unlimited() -> bool:
        return not current_app.config[setting]

    return limit, unlimited


def _limit_blueprint(limiter: Limiter, blueprint: Blueprint, setting: str, **options) -> None:
    limit, unlimited = _budget(setting)
    if "scope" in options:
        limiter.shared_limit(limit, exempt_when=unlimited, **options)(blueprint)
    else:
        limiter.limit(limit, exempt_when=unlimited, **options)(blueprint)


def _limit_headers(response: Response) -> Response:
    """``X-RateLimit-*`` on every limited response; ``Retry-After`` only on a 429, so it keeps its
    meaning elsewhere (a 202 while a report renders says when to poll again)."""
    limiter = current_app.extensions["reportgen.limiter"]
    current = limiter.current_limit if limiter.enabled else None
    if current is None:
        return response
    response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(current.remaining)
    response.headers["X-RateLimit-Reset"] = str(current.reset_at)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, int(current.reset_at - time.time())))
    return response


def init_app(app: Flask) -> Limiter:
    """Every API call and page view share one budget per client; submissions and sign-in attempts
    each have a tighter one. Health checks and static files are never limited."""
    config = app.config
    limiter = Limiter(
        key_func=client_key,
        storage_uri=storage_uri(config["REDIS_URL"]),
        storage_options={"socket_connect_timeout": 2, "socket_timeout": 2} if config["REDIS_URL"] else {},
        strategy="sliding-window-counter",
        key_prefix="reportgen-limits",
        headers_enabled=False,
        swallow_errors=True,
        enabled=config["RATELIMIT_ENABLED"],
    )
    limiter.init_app(app)
    app.after_request(_limit_headers)
    _check_limits_first(app, limiter)
    for name in ("api", "classes", "subscriptions", "web"):
        blueprint = app.blueprints[name]
        _limit_blueprint(limiter, blueprint, REQUEST_BUDGET, scope="requests")
        _limit_blueprint(limiter, blueprint, SUBMISSION_BUDGET, scope="submissions", methods=["POST"])
    if "auth" in app.blueprints:
        _limit_blueprint(limiter, app.blueprints["auth"], SIGNIN_BUDGET, scope="signin", methods=["POST"],
                         key_func=address_key)
    app.extensions["reportgen.limiter"] = limiter
    return limiter


def _check_limits_first(app: Flask, limiter: Limiter) -> None:
    """Move Flask-Limiter's check in front of the access guard and CSRFProtect: otherwise a
    request they refuse (a guessed token, a signed-out browser, a forged form) is never counted."""
    hooks = app.before_request_funcs[None]
    hooks.remove(limiter._check_request_limit)
    hooks.insert(0, limiter._check_request_limit)
