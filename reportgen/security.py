"""Security headers on every response, and the sandbox that stored HTML reports are served in."""
from __future__ import annotations

from flask import Flask, Response, request

from .auth.guards import DASHBOARD_PREFIX, path_under

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Our own pages: no inline script or style, nothing from other origins."""

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""rq-dashboard 0.9.0 ships inline scripts and compiles underscore templates at run time; it is
served only to signed-in operators and still loads nothing from other origins."""

REPORT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
"""Stored HTML reports hold user data: a sandbox (an opaque origin, no scripts, no forms) and no
way to load anything, so even a template bug could not run script on reportgen's origin."""

def sandbox_report(response: Response) -> Response:
    """Mark a response that carries a stored HTML report."""
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


def _content_security_policy() -> str:
    return DASHBOARD_CSP if path_under(DASHBOARD_PREFIX) else APP_CSP


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
