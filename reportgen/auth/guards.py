"""One ``before_request`` hook in front of the dashboard, the API and the pages.

- ``/rq``: only signed-in operators; anything but GET/HEAD also has to come from this site
  (Origin, or Referer when there is no Origin), and ``/rq/requeue/<queue>`` only takes POST.
- ``/assignment``: when API tokens are configured, ``Authorization: Bearer <token>``; a signed-in
  operator's browser may also GET (the pages link their downloads there).
- the pages: when API tokens are configured, only signed-in operators (else the upload form
  would be a way around the tokens).
- an exposed server never shows reports to a client it cannot tell apart: with neither API tokens
  nor an operator password it refuses the pages and the API (403, naming the variables to set);
  with a password but no tokens, the pages need the sign-in and the API (which has no way to tell
  its clients apart) only serves a signed-in operator's browser. ``/healthz``, ``/readyz``,
  static files and ``POST /assignment/sequence`` (which stores and shows no report) stay served.

*Exposed* is decided per request, from where it came in (:func:`request_is_exposed`): the local
address of the connection's socket (``gunicorn.socket``, or ``werkzeug.socket`` under ``flask
run``) is not a loopback address, or the request came through a proxy (``Forwarded``,
``X-Forwarded-For`` or ``X-Real-IP``, or ``REPORTGEN_TRUSTED_PROXIES`` set). The socket, not the
configured bind address, because neither server tells the app what it was bound to (gunicorn's
``SERVER_NAME`` is the Host header) and because it answers the question that matters: could this
request come from another machine? A server bound to ``0.0.0.0`` and asked on ``127.0.0.1`` from
the same machine is still a single user's; asked on the machine's network address it is not. A
request through nginx (compose) arrives on the container's network address with
``X-Forwarded-For``, so it counts as exposed; so does a local reverse proxy, by its headers.
Without a socket (another WSGI server, the test client) the client's address stands in for it.
"""
from __future__ import annotations

import ipaddress
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
#: What an exposed server without credentials still serves under the API: it stores and shows no report.
OPEN_API_ENDPOINTS = {"api.sequence"}
SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
NO_TOKENS = "not set (nor REPORTGEN_API_TOKENS_FILE): API clients cannot be told apart"
NO_PASSWORD = "not set: nobody can sign in to the browser pages"


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


def under_api() -> bool:
    """The request is for the JSON API."""
    return any(path_under(prefix) for prefix in API_PREFIXES)


def sign_in_off():
    """The page for a server without ``REPORTGEN_ADMIN_PASSWORD``: 404, since there is nothing to sign in to."""
    return render_template("auth/off.html"), 404


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def request_is_exposed() -> bool:
    """The request could have come from another machine (see the module's docstring)."""
    if current_app.config.get("REPORTGEN_TRUSTED_PROXIES") or any(h in request.headers for h in PROXY_HEADERS):
        return True
    connection = next((request.environ[key] for key in SOCKET_KEYS if key in request.environ), None)
    if connection is None:
        return not _is_loopback(request.environ.get("REMOTE_ADDR"))
    try:
        local = connection.getsockname()
    except (OSError, AttributeError):
        return True
    if isinstance(local, (str, bytes)):  # a Unix socket: only this machine's processes reach it
        return False
    return not _is_loopback(local[0])


def _serves_reports() -> bool:
    if under_api():
        return request.endpoint not in OPEN_API_ENDPOINTS
    return request.blueprint == "web" and request.endpoint not in OPEN_PAGE_ENDPOINTS


def _refuse_exposed():
    """403 on an exposed server without API tokens, naming what to set."""
    current_app.logger.warning("refused %s %s: the server is exposed and has no API tokens%s", request.method,
                               request.path, "" if sign_in_enabled() else " or operator password")
    if under_api() or wants_json_response():
        missing = {"REPORTGEN_API_TOKENS": NO_TOKENS}
        if not sign_in_enabled():
            missing["REPORTGEN_ADMIN_PASSWORD"] = NO_PASSWORD
        return error_response(403, "refused: this server can be reached from other machines and cannot tell its "
                                   "clients apart, so it would show every report to anyone; set "
                                   f"{' and '.join(missing)} (see README: Deployment), then restart it", missing)
    return render_template("auth/exposed.html"), 403


def guard():
    if path_under(DASHBOARD_PREFIX):
        return _guard_dashboard()
    if (_serves_reports() and not api_tokens_configured() and request_is_exposed()
            and not is_signed_in()):
        if request.blueprint == "web" and sign_in_enabled():
            return _guard_pages()
        return _refuse_exposed()
    if under_api():
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
