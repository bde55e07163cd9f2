"""One ``before_request`` hook in front of the dashboard, the API and the pages.

- ``/rq``: only signed-in operators; anything but GET/HEAD also has to come from this site
  (Origin, or Referer when there is no Origin), and ``/rq/requeue/<queue>`` only takes POST.
- ``/assignment``: when API tokens are configured, ``Authorization: Bearer <token>``; a signed-in
  operator's browser may also GET (the pages link their downloads there).
- the pages: when API tokens are configured, only signed-in operators (else the upload form
  would be a way around the tokens).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import MethodNotAllowed, NotFound

from ..errors import API_PREFIXES, error_response, wants_json_response
from .credentials import sha256, token_digests, token_matches
from .operator import is_signed_in, sign_in_enabled

DASHBOARD_PREFIX = "/rq"
SAFE_METHODS = ("GET", "HEAD")
OPEN_PAGE_ENDPOINTS = {"web.favicon"}
TOKEN_DIGESTS = "reportgen.api_token_digests"
DASHBOARD_OFF = "the dashboard is off; set REPORTGEN_ADMIN_PASSWORD to turn it on"


def init_app(app: Flask) -> None:
    digests = token_digests(app.config["REPORTGEN_API_TOKENS"], app.config["REPORTGEN_API_TOKENS_FILE"] or None)
    app.extensions[TOKEN_DIGESTS] = digests
    if digests and not app.config.get("REPORTGEN_ADMIN_PASSWORD"):
        app.logger.warning("API tokens are set but REPORTGEN_ADMIN_PASSWORD is not: "
                           "the browser pages stay locked until it is set")
    app.before_request(guard)


def api_tokens_configured() -> bool:
    return bool(current_app.extensions[TOKEN_DIGESTS])


def verified_token_digest() -> bytes | None:
    """The SHA-256 digest of the request's bearer token when it is one of the configured tokens,
    else None: what the guard lets through and what rate limits key on, decided once per request
    (constant-time compare) so that an unverified header never names a client."""
    if "reportgen_token_digest" not in g:
        g.reportgen_token_digest = None
        digests = current_app.extensions[TOKEN_DIGESTS]
        token = bearer_token()
        if digests and token and token_matches(token, digests):
            g.reportgen_token_digest = sha256(token)
    return g.reportgen_token_digest


def bearer_token() -> str | None:
    """The credentials of an ``Authorization: Bearer …`` header, unverified."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def path_under(prefix: str) -> bool:
    """The request's path is ``prefix`` itself or below it."""
    return request.path == prefix or request.path.startswith(prefix + "/")


def sign_in_off():
    """The page for a server without ``REPORTGEN_ADMIN_PASSWORD``: 404, since there is nothing to sign in to."""
    return render_template("auth/off.html"), 404


def guard():
    if path_under(DASHBOARD_PREFIX):
        return _guard_dashboard()
    if any(path_under(prefix) for prefix in API_PREFIXES):
        return _guard_api()
    if request.blueprint == "web" and request.endpoint not in OPEN_PAGE_ENDPOINTS and api_tokens_configured():
        return _guard_pages()
    return None


def same_origin() -> bool:
    """The request's Origin (or, without one, its Referer) is this site's scheme and host."""
    expected = f"{request.scheme}://{request.host}".lower()
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip().lower() == expected
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer.strip())
        return f"{parts.scheme}://{parts.netloc}".lower() == expected
    return False


def _sign_in_redirect():
    target = request.full_path.rstrip("?") if request.method in SAFE_METHODS else None
    return redirect(url_for("auth.signin", next=target), code=302 if target else 303)


def dashboard_wants_json() -> bool:
    """The dashboard's data URLs and its actions (posted by its scripts) answer JSON; its pages, HTML."""
    return ("/data/" in request.path or request.path.endswith(".json") or request.method not in SAFE_METHODS
            or wants_json_response())


def _guard_dashboard():
    wants_json = dashboard_wants_json()
    if not sign_in_enabled():
        if wants_json:
            return error_response(404, DASHBOARD_OFF)
        return sign_in_off()
    if not is_signed_in():
        if request.method in SAFE_METHODS and not wants_json:
            return _sign_in_redirect()
        return error_response(401, "sign in at /signin to use the dashboard")
    if request.method not in SAFE_METHODS and not same_origin():
        return error_response(403, "refused: dashboard actions must come from the dashboard's own pages "
                                   "(the Origin or Referer header names another site, or neither was sent)")
    if request.endpoint == "rq_dashboard.requeue_all" and request.method != "POST":
        raise MethodNotAllowed(valid_methods=["POST"], description="requeueing changes the queue: POST only")
    if (request.view_args or {}).get("instance_number", 0) != 0:
        # rq-dashboard 0.9.0 raises LookupError (a 500) for an instance it does not have.
        if wants_json:
            return error_response(404, "this dashboard shows one Redis: instance 0")
        raise NotFound("This dashboard shows one Redis, instance 0: use /rq/.")
    return None


def _bearer_challenge(message: str, invalid: bool):
    response = error_response(401, message)
    challenge = 'Bearer realm="reportgen"'
    if invalid:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def _guard_api():
    if not api_tokens_configured():
        return None
    if bearer_token():
        if verified_token_digest():
            return None
        return _bearer_challenge("the bearer token is not valid", invalid=True)
    if request.method in SAFE_METHODS and is_signed_in():
        return None
    return _bearer_challenge("this API needs a token: send the header Authorization: Bearer <token>",
                             invalid=False)


def _guard_pages():
    if is_signed_in():
        return None
    if request.endpoint == "web.status_json" or wants_json_response():
        return error_response(401, "sign in at /signin to see reports")
    return _sign_in_redirect()
