"""Error responses: JSON for API clients, a plain page for browsers."""
from __future__ import annotations

from flask import Flask, Response, jsonify, render_template_string, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .domain.submission import SubmissionError

API_PREFIXES = ("/assignment",)

ERROR_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>{{ code }} {{ name }} · reportgen</title>
<h1>{{ code }} {{ name }}</h1><p>{{ message }}</p><p><a href="/">Back to reportgen</a></p></html>"""


def wants_json_response() -> bool:
    """API paths always answer JSON; elsewhere, clients that prefer JSON over HTML get it."""
    if request.path.startswith(API_PREFIXES):
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def error_response(status: int, message: str, details: dict | None = None) -> Response:
    body = {"error": message}
    if details is not None:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def _describe(exc: HTTPException) -> str:
    if isinstance(exc, RequestEntityTooLarge):
        from flask import current_app

        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return f"the request body is larger than the {limit} byte limit (MAX_CONTENT_LENGTH)"
    return exc.description or exc.name


def handle_http_exception(exc: HTTPException):
    message = _describe(exc)
    if wants_json_response():
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    page = render_template_string(ERROR_PAGE, code=exc.code, name=exc.name, message=message)
    return page, exc.code


def handle_submission_error(exc: SubmissionError):
    return error_response(400, exc.message, exc.details)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(SubmissionError, handle_submission_error)
