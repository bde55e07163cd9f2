"""Error responses: JSON for API clients, a plain page for browsers."""
from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, TooManyRequests

from .config import MiB
from .domain.submission import SubmissionError

API_PREFIXES = ("/assignment", "/namespaces", "/subscriptions")


def wants_json_response() -> bool:
    """API paths always answer JSON; elsewhere, clients that prefer JSON over HTML get it."""
    if request.path.startswith(API_PREFIXES):
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def error_response(status: int, message: str, details: dict | None = None, **extra) -> Response:
    body = {"error": message}
    if details is not None:
        body["details"] = details
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def _describe(exc: HTTPException) -> str:
    if isinstance(exc, RequestEntityTooLarge):
        from flask import current_app

        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return f"the request body is larger than the {limit} byte limit (MAX_CONTENT_LENGTH)"
    if isinstance(exc, TooManyRequests):
        return f"too many requests: the limit is {exc.description}; wait for the seconds in Retry-After"
    return exc.description or exc.name


def handle_http_exception(exc: HTTPException):
    message = _describe(exc)
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if wants_json_response():
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        response.headers.update(headers)
        return response
    return render_template("error.html", code=exc.code, **_for_people(exc, message)), exc.code, headers


def _megabytes(size: int) -> str:
    return f"{size / MiB:.0f} MB" if size >= MiB else f"{size / 1024:.0f} kB" if size >= 1024 else f"{size} bytes"


def _for_people(exc: HTTPException, message: str) -> dict:
    """Heading, message and a hint for the HTML error page, in plain words."""
    if isinstance(exc, RequestEntityTooLarge):
        limit = _megabytes(current_app.config["MAX_CONTENT_LENGTH"])
        return {
            "heading": "That file is too large",
            "message": f"Uploads can be at most {limit}, and this one is bigger, so nothing was stored.",
            "hint": "Split the students over several smaller files and send each one, "
                    "or ask whoever runs reportgen to raise the limit (MAX_CONTENT_LENGTH).",
        }
    if isinstance(exc, CSRFError):
        return {
            "heading": "The form expired",
            "message": "For your safety, forms only work for a while and only from this site, "
                       f"so this one was refused ({exc.description}) and nothing was stored.",
            "hint": "Go back to the form, reload the page and send it again.",
        }
    if isinstance(exc, TooManyRequests):
        return {
            "heading": "Slow down a little",
            "message": f"This address has sent more requests than reportgen allows ({exc.description}).",
            "hint": "Wait a minute and try again.",
        }
    if exc.code == 404:
        return {"heading": "Not found", "message": message, "hint": None}
    if (exc.code or 500) >= 500:
        return {"heading": "Something went wrong on our side", "message": message,
                "hint": "Please try again in a moment."}
    return {"heading": exc.name, "message": message, "hint": None}


def handle_submission_error(exc: SubmissionError):
    """400 (413 for an upload over a cap) with the problems by path; past ``MAX_PROBLEMS`` of
    them, how many were left out."""
    extra = {"errors_not_shown": exc.not_shown} if exc.not_shown else {}
    return error_response(getattr(exc, "status", 400), exc.message, exc.details, **extra)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(SubmissionError, handle_submission_error)
