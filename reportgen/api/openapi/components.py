"""The description's components (parameters, headers, reusable responses, security schemes)
and the webhook a report's ``callback_url`` receives."""
from __future__ import annotations

from ...delivery.webhooks import SIGNATURE_HEADERS
from ...domain.importers import FORMATS as IMPORT_FORMATS
from ...domain.submission import MAX_PROBLEMS
from ...pipeline.submit import MAX_IDEMPOTENCY_KEY
from ...render import formats
from .schemas import schemas
from .shapes import error, header, json_content, ref


def components() -> dict:
    rate_headers = {name: header(name) for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")}
    integer = {"type": "integer", "minimum": 0}
    return {
        "schemas": schemas(),
        "parameters": {
            "report_format": {"name": "report_format", "in": "path", "required": True,
                              "schema": {"type": "string", "enum": list(formats.NAMES)},
                              "description": "The report's format."},
            "task_id": {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "The `task_id` the submit answered."},
            "bom": {"name": "bom", "in": "query", "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                    "description": "1: start a CSV download (each file in a ZIP) with a UTF-8 byte-order mark for "
                                   "Excel; CSV only."},
            "input": {"name": "input", "in": "query",
                      "schema": {"type": "string", "enum": ["auto", *IMPORT_FORMATS], "default": "auto"},
                      "description": ("The format of the body: reportgen's own JSON or CSV, xAPI statements, a Moodle "
                                      "log download (CSV) or Caliper events. By default it is recognised from the "
                                      "body's first kilobytes. Another value is 400.")},
            "namespace": {"name": "namespace", "in": "query", "schema": {"type": "string", "maxLength": 200},
                          "description": ("xAPI, Moodle, Caliper: the namespace of records whose course the file "
                                          "does not name (else none).")},
            "day_first": {"name": "day_first", "in": "query",
                          "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"],
                                     "default": "true"},
                          "description": "Moodle: whether the log writes the day first (21/07/24); false for US English."},
            "timezone": {"name": "timezone", "in": "query", "schema": {"type": "string", "default": "UTC"},
                         "description": ("Moodle: the IANA time zone the log's times are in (the downloading user's), "
                                         "e.g. Europe/Berlin. An unknown zone is 400.")},
            "exclude_users": {"name": "exclude_users", "in": "query", "schema": {"type": "string"},
                              "description": "Moodle: user ids or full names, comma-separated, whose rows are left out."},
            "Idempotency-Key": {
                "name": "Idempotency-Key", "in": "header",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
                "description": ("Makes a retried submit safe: the same key with the same body answers the original "
                                "report (202, `Idempotent-Replayed: true`) for 24 hours per client; with another body, "
                                "422; a malformed key, or more than one, 400 (repeated headers arrive joined by a "
                                "comma, so quote a key that holds one)."),
                "example": "4f1c2a9e-6b1d-4a53-9d0a-1f8e7c3b2a10",
            },
        },
        "headers": {
            "RetryAfterRequired": {"description": "Seconds to wait before asking again.", "required": True,
                                   "schema": integer},
            "ETag": {"description": "The sha256 of the bytes sent, quoted.", "schema": {"type": "string"}},
            "ContentDisposition": {"description": "`inline` (HTML) or `attachment`, with the file name.",
                                   "schema": {"type": "string"}},
            "WWW-Authenticate": {"description": 'The bearer challenge: `Bearer realm="reportgen"` (with '
                                                '`error="invalid_token"` for a wrong token).', "required": True,
                                 "schema": {"type": "string"}},
            "X-RateLimit-Limit": {"description": "The client's budget in the current window.", "schema": integer},
            "X-RateLimit-Remaining": {"description": "What is left of it.", "schema": integer},
            "X-RateLimit-Reset": {"description": "When the window resets (Unix time).", "schema": {"type": "number"}},
        },
        "responses": {
            "BadSubmission": error(
                "The submission is invalid: every problem by path, the first "
                f"{MAX_PROBLEMS} of them (`errors_not_shown` counts the rest); also malformed JSON, an email "
                "without SMTP, a refused `callback_url` or a malformed Idempotency-Key.",
                example={"error": "invalid submission: 1 problem", "details": {"[0].events[0].unit": "is required"}}),
            "TooLarge": error("The body is over MAX_CONTENT_LENGTH, or holds more students and events (CSV rows, "
                               "Moodle log rows) than REPORTGEN_MAX_UPLOAD_OBJECTS, or an xAPI or Caliper file more "
                               "than twice that many JSON objects."),
            "UnsupportedMediaType": error("Not JSON or CSV: send Content-Type application/json or text/csv."),
            "NotFound": error("No report of this format with this task id that this client may see (another "
                               "token's report is not found either), or no student at this position."),
            "Unauthorized": error("API tokens are set and the request has none, or a wrong one.",
                                   headers={"WWW-Authenticate": header("WWW-Authenticate")}),
            "Forbidden": error("Refused: the server can be reached from other machines and has no API tokens, so "
                                "it cannot tell API clients apart and shows no report through the API (`details` "
                                "names the variables to set)."),
            "TooManyRequests": error("Over the client's rate limit (REPORTGEN_RATE_LIMIT; submits also "
                                      "REPORTGEN_SUBMIT_RATE_LIMIT).",
                                      headers={"Retry-After": header("RetryAfterRequired"), **rate_headers}),
            "MethodNotAllowed": error("Any method a path does not list here.",
                                       headers={"Allow": {"description": "The methods the path takes.",
                                                          "required": True, "schema": {"type": "string"}}}),
        },
        "securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer",
                            "description": ("One of REPORTGEN_API_TOKENS (or REPORTGEN_API_TOKENS_FILE). When none "
                                            "are set, the API is open.")},
            "operatorSession": {"type": "apiKey", "in": "cookie", "name": "session",
                                "description": "A signed-in operator's browser session (GET only)."},
        },
    }


def webhooks() -> dict:
    signed = {name: {"required": True, "schema": {"type": "string"}} for name in SIGNATURE_HEADERS}
    signed["webhook-id"]["description"] = "Unique per delivery; the same on every retry of it."
    signed["webhook-timestamp"]["description"] = "Unix seconds when it was signed."
    signed["webhook-signature"]["description"] = ("`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the secret "
                                                  "REPORTGEN_WEBHOOK_SECRET (Standard Webhooks).")
    return {
        "reportFinished": {
            "post": {
                "operationId": "reportFinished",
                "security": [],
                "summary": "A report ended: SUCCESS, FAILURE or CANCELED",
                "description": ("POSTed to the submission's `callback_url` once the report ends. Retried with backoff "
                                "on connection errors, timeouts, 429 and 5xx; redirects are not followed. Its state "
                                "shows in the report's `deliveries`. Its links are absolute: under "
                                "REPORTGEN_PUBLIC_URL as the worker has it, else under the scheme and host the report "
                                "was submitted to. A submit of several formats sends one per report."),
                "parameters": [{"name": name, "in": "header", **header} for name, header in signed.items()],
                "requestBody": {"required": True,
                                "description": ("A SUCCESS report's metadata (as `Accept: application/json` answers "
                                                "it), else its status with `error`; without `deliveries`."),
                                "content": json_content({"anyOf": [ref("ReportMetadata"), ref("ReportStatus")]})},
                "responses": {"2XX": {"description": "Received; nothing more is sent."},
                              "default": {"description": "429 and 5xx are retried; anything else is not."}},
            },
        },
    }
