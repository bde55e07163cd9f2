"""The OpenAPI 3.1 description of the JSON API, built from the code it describes.

One function, :func:`document`, returns the whole description as a dict (served as
``/openapi.json`` by :mod:`reportgen.api.docs`). Whatever the code already names is read from
it rather than written again, so the description cannot drift from the service: the formats and
their media types from :mod:`reportgen.render.formats`, the statuses from :mod:`reportgen.models`, the
options and their ranges from :mod:`reportgen.domain.options`, the caps from
:mod:`reportgen.domain.submission` and the CSV columns from :mod:`reportgen.domain.csv_import`;
limits a server sets (``MAX_CONTENT_LENGTH``, ``REPORTGEN_MAX_UPLOAD_OBJECTS``) come from the
app's config. ``tests/test_openapi.py`` holds the description to the url map and validates
every API response the test suite gets against it.

Paths are written with Flask's own variable names (``{report_format}``), so a rule of the url
map and a documented path are the same text. Response objects allow fields they do not list:
clients are expected to ignore what they do not know, so adding a field never breaks one.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..render import formats
from ..domain.csv_export import HEADER as CSV_EXPORT_HEADER
from ..domain.csv_import import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from ..domain.options import (
    DEFAULT_IDLE_CUTOFF_MINUTES, KNOWN_OPTIONS, MAX_IDLE_CUTOFF_MINUTES, MIN_IDLE_CUTOFF_MINUTES, WINDOW_KEYS,
)
from ..domain.submission import MAX_PROBLEMS, MAX_RECIPIENTS, TIME_RANGE
from ..models import DeliveryStatus, Status

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

#: Every status a report can have. ``CANCELED`` is listed even before the model has it, so that
#: the description and the cancel endpoint can land in either order.
STATUSES = tuple(dict.fromkeys([*(status.value for status in Status), "CANCELED"]))
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
PURGE_REASONS = ("expired", "deleted")
#: The Standard Webhooks headers every webhook request carries.
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
IDEMPOTENCY_KEY_MAX = 255

JSON = "application/json"
ZIP = "application/zip"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _response(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: dict, **media) -> dict:
    return {JSON: {"schema": schema, **media}}


def _header(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


def _error(description: str, *, headers: Mapping[str, dict] | None = None, example: dict | None = None) -> dict:
    response = {"description": description, "content": _json(ref("Error"))}
    if example is not None:
        response["content"][JSON]["example"] = example
    if headers:
        response["headers"] = dict(headers)
    return response


def _param(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _document_content() -> dict:
    """A finished document's media types, one per format, as the registry serves them."""
    content: dict[str, Any] = {}
    for fmt in formats.FORMATS.values():
        schema = {"type": "string", "description": f"the {fmt.label} document ({fmt.disposition})"}
        if not fmt.mimetype.startswith("text/"):
            schema["contentMediaType"] = fmt.mimetype
        content[fmt.mimetype] = {"schema": schema}
    return content


def _schemas() -> dict:
    names = list(formats.NAMES)
    date_time = {"type": "string", "format": "date-time"}
    unit = {"oneOf": [{"type": "string", "minLength": 1, "pattern": r"\S"}, {"type": "integer"}],
            "description": "A unit (exercise) id; 17 and \"17\" are the same unit."}
    event = {
        "type": "object",
        "required": ["unit"],
        "properties": {
            "unit": unit,
            "type": {"type": ["string", "null"], "examples": ["saved_code", "submitted"]},
            "created_time": {
                "type": ["string", "null"],
                "description": ("ISO 8601 with `T` or a space, any fraction, any offset or `Z`; naive means UTC. "
                                f"Must lie in {TIME_RANGE}. An event without one is untimed."),
                "examples": ["2024-07-21 03:04:55.939000+00:00", "2024-07-21T03:04:55Z"],
            },
        },
    }
    student = {
        "type": "object",
        "required": ["student_id", "events"],
        "properties": {
            "student_id": {"type": "string", "minLength": 1, "pattern": r"\S",
                           "description": "Unique within its namespace."},
            "namespace": {"type": ["string", "null"], "description": "A class or course; empty when not given."},
            "events": {"type": "array", "items": ref("Event")},
        },
    }
    students = {
        "oneOf": [ref("Student"), {"type": "array", "minItems": 1, "items": ref("Student")}],
        "description": "One student object or an array of them; a student appears once per namespace.",
    }
    units = {
        "type": ["object", "null"],
        "additionalProperties": {"type": "array", "minItems": 1, "uniqueItems": True, "items": unit},
        "description": ("Namespace → its units in label order: the listed units are Q1…Qk in list order and keep "
                        "their numbers even without events; other units follow."),
        "examples": [{"python-101": [7, 3, "intro"]}],
    }
    bound = {"type": "string", "description": "An ISO 8601 date (a whole day) or date-time; inclusive, UTC."}
    window_in = {
        "type": ["object", "null"],
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {key: bound for key in WINDOW_KEYS},
        "description": "Only events in this range count; untimed events are outside every window.",
        "examples": [{"from": "2024-07-01", "to": "2024-07-31"}],
    }
    option_schemas = {
        "event_log": {"type": ["boolean", "null"], "default": False,
                      "description": "Append the raw one-line-per-event log to the PDF."},
        "idle_cutoff_minutes": {"type": ["integer", "null"], "minimum": MIN_IDLE_CUTOFF_MINUTES,
                                "maximum": MAX_IDLE_CUTOFF_MINUTES, "default": DEFAULT_IDLE_CUTOFF_MINUTES,
                                "description": "Gaps longer than this are not time on task."},
        "units": units,
        "window": window_in,
    }
    assert set(option_schemas) == set(KNOWN_OPTIONS), "document every option of domain.options"
    options = {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {name: option_schemas[name] for name in KNOWN_OPTIONS},
        "description": "`null` anywhere means “not given” and takes the default. Unknown options are refused (400).",
    }
    envelope = {
        "type": "object",
        "required": ["students"],
        "properties": {
            "students": students,
            "email": {
                "oneOf": [{"type": "string", "format": "email"},
                          {"type": "array", "maxItems": MAX_RECIPIENTS, "items": {"type": "string", "format": "email"}},
                          {"type": "null"}],
                "description": ("Who gets the finished report by email (needs SMTP_HOST on the server, else 400). "
                                f"At most {MAX_RECIPIENTS} addresses."),
            },
            "options": ref("Options"),
            "callback_url": {
                "type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                "description": ("http or https URL that gets a signed POST (see `webhooks`) when the report ends: "
                                "SUCCESS, FAILURE or CANCELED. Refused (400) when it is not http(s) or resolves to "
                                "a loopback, private, link-local or metadata address not in REPORTGEN_WEBHOOK_ALLOW."),
                "examples": ["https://lms.example.org/hooks/reportgen"],
            },
        },
        "description": ("A submission with what it asks of the report: an object with `students` and no "
                        "`student_id` (that would be one student). Fields not listed here are ignored."),
    }
    report_options = {
        "type": ["object", "null"],
        "description": "The options the report was made with, every key present (null for reports made before options).",
        "properties": {
            "event_log": {"type": "boolean"},
            "idle_cutoff_minutes": {"type": "integer", "minimum": MIN_IDLE_CUTOFF_MINUTES,
                                    "maximum": MAX_IDLE_CUTOFF_MINUTES},
            "units": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "window": {"type": ["object", "null"],
                       "properties": {key: {"type": ["string", "null"]} for key in WINDOW_KEYS}},
        },
    }
    delivery = {
        "type": "object",
        "required": ["status"],
        "description": ("One delivery of the finished report: an email to one recipient, or the webhook to "
                        "`callback_url` (`kind`). Fields that do not apply to a kind are absent or null."),
        "properties": {
            "kind": {"type": "string", "examples": ["email", "webhook"]},
            "recipient": {"type": ["string", "null"], "description": "The email address (or the webhook URL)."},
            "url": {"type": ["string", "null"], "description": "The webhook's URL."},
            "status": {"type": "string",
                       "description": "Email: " + ", ".join(status.value for status in DeliveryStatus) + "."},
            "attempts": {"type": ["integer", "null"], "minimum": 0},
            "error": {"type": ["string", "null"]},
            "sent_at": _nullable(date_time),
            "status_code": {"type": ["integer", "null"], "description": "The receiver's last HTTP status (webhook)."},
            "delivered_at": _nullable(date_time),
        },
    }
    summary_student = {
        "type": "object",
        "required": ["position", "student_id", "status"],
        "properties": {
            "position": {"type": "integer", "minimum": 0},
            "student_id": {"type": "string"},
            "namespace": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": list(STATUSES)},
            "error": {"type": ["string", "null"]},
            "size": {"type": ["integer", "null"], "minimum": 0},
            "download_url": {"type": ["string", "null"], "description": "This student's own document, when it succeeded."},
        },
    }
    status_properties = {
        "task_id": {"type": "string"},
        "format": {"type": "string", "enum": names},
        "status": {"type": "string", "enum": list(STATUSES),
                   "description": "PENDING and STARTED go on; " + ", ".join(FINISHED) + " are final."},
        "progress": {
            "type": "object",
            "required": ["current", "total", "percent"],
            "properties": {"current": {"type": "integer", "minimum": 0}, "total": {"type": "integer", "minimum": 0},
                           "percent": {"type": "integer", "minimum": 0, "maximum": 100}},
        },
        "status_url": {"type": "string", "format": "uri-reference"},
        "student_count": {"type": "integer", "minimum": 0},
        "event_count": {"type": "integer", "minimum": 0},
        "attempts": {"type": ["integer", "null"], "minimum": 0},
        "created_at": _nullable(date_time),
        "started_at": _nullable(date_time),
        "finished_at": _nullable(date_time),
        "options": ref("ReportOptions"),
        "events_left_out": {"type": "integer", "minimum": 0, "description": "Events outside the window."},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "expires_at": {**_nullable(date_time),
                       "description": "When the stored input and documents are deleted (REPORTGEN_RETENTION_DAYS)."},
        "purged_at": {**date_time, "description": "When they were deleted; later downloads answer 410."},
        "purge_reason": {"type": ["string", "null"], "enum": [*PURGE_REASONS, None]},
        "gone": {"type": "string", "description": "Why the documents are gone, in plain words."},
        "error": {"type": ["string", "null"], "description": "Why the report failed (FAILURE only)."},
        "deliveries": {"type": "array", "items": ref("Delivery")},
        "summary": {
            "type": "object",
            "required": ["total", "succeeded", "failed", "success_rate", "students"],
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "succeeded": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "success_rate": {"type": "number", "minimum": 0, "maximum": 1},
                "students": {"type": "array", "items": ref("SummaryStudent")},
            },
        },
    }
    report_status = {
        "type": "object",
        "required": ["task_id", "format", "status", "progress", "status_url", "student_count", "event_count",
                     "created_at", "started_at", "finished_at", "options", "events_left_out", "warnings",
                     "expires_at"],
        "properties": status_properties,
        "description": "What a polling client needs: state, progress and where to look next.",
    }
    metrics = {"type": "object", "description": "A student's activity metrics, as the report prints them."}
    report_metadata = {
        "allOf": [ref("ReportStatus")],
        "type": "object",
        "required": ["student_ids", "namespaces", "content_type", "size", "sha256", "filename", "download_url",
                     "bundle_url", "sequences", "students", "cohort"],
        "properties": {
            "student_ids": {"type": "array", "items": {"type": "string"}},
            "namespaces": {"type": "array", "items": {"type": "string"}},
            "content_type": {"type": ["string", "null"]},
            "size": {"type": ["integer", "null"], "minimum": 0},
            "sha256": {"type": ["string", "null"], "pattern": "^([0-9a-f]{64})?$"},
            "filename": {"type": "string"},
            "download_url": {"type": "string", "format": "uri-reference"},
            "bundle_url": {"type": "string", "format": "uri-reference",
                           "description": "Every student's own document in one ZIP."},
            "sequences": {"type": ["object", "null"], "description": "The labels and each student's sequence, "
                                                                     "as POST /assignment/sequence answers."},
            "students": {"type": "array", "items": {
                "type": "object", "required": ["student_id", "namespace", "metrics"],
                "properties": {"student_id": {"type": "string"}, "namespace": {"type": "string"},
                               "metrics": {"type": ["object", "null"]}}}},
            "cohort": {"type": "object", "description": "Each class's ranges of the metrics."},
        },
        "description": "A report described instead of downloaded (`Accept: application/json`).",
    }
    item_status = {
        "type": "object",
        "required": ["task_id", "position", "student_id", "status", "error"],
        "properties": {
            "task_id": {"type": "string"},
            "position": {"type": "integer", "minimum": 0},
            "student_id": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "error": {"type": ["string", "null"]},
        },
        "description": "One student's document is not there (yet): still rendering (202) or failed (500).",
    }
    sequence_student = {
        "type": "object",
        "required": ["student_id", "namespace", "sequence"],
        "properties": {
            "student_id": {"type": "string"},
            "namespace": {"type": "string"},
            "sequence": {"type": "array", "items": {"type": "string", "examples": ["Q1"]}},
            "metrics": metrics,
        },
    }
    sequence = {
        "type": "object",
        "required": ["namespaces", "students"],
        "properties": {
            "namespaces": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["units"],
                "properties": {"units": {"type": "object", "additionalProperties": {"type": "string"},
                                         "description": "Label (Q1, Q2, …) → unit."}}}},
            "students": {"type": "array", "items": sequence_student},
            "cohort": {"type": "object", "description": "With ?metrics=1: each class's ranges."},
            "options": {**ref("ReportOptions"), "description": "With ?metrics=1: the options applied."},
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What went wrong, in plain words."},
            "details": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": MAX_PROBLEMS,
                        "description": ("Field path (`[2].events[5].created_time`, `options.window`, for CSV "
                                        "`row 7, column unit`) → the problem there; at most "
                                        f"{MAX_PROBLEMS}.")},
            "errors_not_shown": {"type": "integer", "minimum": 1,
                                 "description": f"How many problems past the first {MAX_PROBLEMS} were left out."},
        },
    }
    health = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    check = {"type": "string", "description": "`ok`, or what is wrong."}
    readiness = {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {"type": "object", "required": ["database", "redis", "workers"],
                       "properties": {"database": check, "redis": check, "workers": check}},
            "error": {"type": "string"},
        },
    }
    return {
        "Event": event, "Student": student, "Students": students, "Options": options, "Envelope": envelope,
        "Submission": {"oneOf": [ref("Envelope"), ref("Students")],
                       "description": "Students alone, or an envelope with email, options and callback_url."},
        "ReportOptions": report_options, "Delivery": delivery, "SummaryStudent": summary_student,
        "ReportStatus": report_status, "ReportMetadata": report_metadata, "StudentDocumentStatus": item_status,
        "Sequence": sequence, "Error": error, "Health": health, "Readiness": readiness,
    }


def _csv_description() -> str:
    return ("A table with a header row naming " + " and ".join(f"`{c}`" for c in REQUIRED_COLUMNS)
            + " (and optionally " + ", ".join(f"`{c}`" for c in OPTIONAL_COLUMNS) + "); one row per event, "
            "UTF-8 with or without a byte-order mark, comma, semicolon or tab. A CSV report downloaded from here ("
            + ", ".join(CSV_EXPORT_HEADER) + ") uploads as it is. A CSV has no envelope: no email, options or "
            "callback_url.")


def _submission_body(config: Mapping[str, Any]) -> dict:
    limit = config.get("MAX_CONTENT_LENGTH")
    objects = config.get("REPORTGEN_MAX_UPLOAD_OBJECTS")
    return {
        "required": True,
        "description": (f"At most {limit:,} bytes (MAX_CONTENT_LENGTH) and {objects:,} students and events, or CSV "
                        "rows (REPORTGEN_MAX_UPLOAD_OBJECTS); more is 413. Any `application/*+json` type is read as "
                        "JSON; other types are 415.") if limit and objects else "JSON or CSV.",
        "content": {
            JSON: {"schema": ref("Submission"), "examples": {
                "students": {"summary": "Students alone", "value": [
                    {"student_id": "alice", "namespace": "python-101", "events": [
                        {"unit": 17, "type": "saved_code", "created_time": "2024-07-21T03:04:55Z"}]}]},
                "envelope": {"summary": "An envelope", "value": {
                    "students": [{"student_id": "alice", "namespace": "python-101",
                                  "events": [{"unit": 17, "created_time": "2024-07-21T03:04:55Z"}]}],
                    "email": ["teacher@example.org"],
                    "options": {"idle_cutoff_minutes": 20, "window": {"from": "2024-07-01", "to": "2024-07-31"}},
                    "callback_url": "https://lms.example.org/hooks/reportgen"}},
            }},
            "text/csv": {"schema": {"type": "string", "description": _csv_description()},
                         "example": "student_id,namespace,unit,created_time\nalice,python-101,17,2024-07-21T03:04:55Z\n"},
        },
    }


COMMON_ERRORS = {"401": _response("Unauthorized"), "403": _response("Forbidden"), "429": _response("TooManyRequests")}


def _paths(config: Mapping[str, Any]) -> dict:
    body_errors = {
        "400": _response("BadSubmission"),
        "413": _response("TooLarge"),
        "415": _response("UnsupportedMediaType"),
    }
    status_200 = {
        "description": ("SUCCESS: the document itself (HTML inline, the others as attachments, with an ETag of its "
                        "sha256), or with `Accept: application/json` the report's metadata (also for a deleted "
                        "report), or with `?bundle=zip` a ZIP of every student's own document."),
        "headers": {"ETag": _header("ETag"), "Content-Disposition": _header("ContentDisposition")},
        "content": {JSON: {"schema": ref("ReportMetadata")}, **_document_content(),
                    ZIP: {"schema": {"type": "string", "contentMediaType": ZIP}}},
    }
    pending = {
        "description": "PENDING or STARTED: poll again after Retry-After seconds.",
        "headers": {"Retry-After": _header("RetryAfterRequired")},
        "content": _json(ref("ReportStatus")),
    }
    download_extras = {
        "206": {"description": "The requested range of the document (`Range`).",
                "content": {mt: {"schema": {"type": "string"}} for mt in _document_content()}},
        "304": {"description": "Not modified: the `If-None-Match` ETag is still the document's."},
        "416": _error("The `Range` is not satisfiable."),
        "410": _error("The report's stored input and documents were deleted (expired after "
                      "REPORTGEN_RETENTION_DAYS, or deleted by its owner), or the report was canceled."),
    }
    return {
        "/assignment/{report_format}": {
            "post": {
                "operationId": "submitReport",
                "summary": "Submit students for a report",
                "description": ("Validates the whole upload at once (every problem by path), stores it and queues "
                                "the report. Send `Idempotency-Key` to retry safely: the same key with the same "
                                "body answers the original report again (`Idempotent-Replayed: true`)."),
                "tags": ["reports"],
                "parameters": [_param("report_format"), _param("Idempotency-Key")],
                "requestBody": _submission_body(config),
                "responses": {
                    "202": {
                        "description": ("Queued (or, with a replayed Idempotency-Key, the original report's "
                                        "status). Poll `status_url`."),
                        "headers": {"Location": {"description": "The status URL.", "required": True,
                                                 "schema": {"type": "string"}},
                                    "Idempotent-Replayed": {"description": "`true` when this answers an earlier "
                                                            "submit with the same Idempotency-Key.",
                                                            "schema": {"type": "string", "enum": ["true"]}}},
                        "content": _json(ref("ReportStatus")),
                    },
                    "400": _response("BadSubmission"),
                    **COMMON_ERRORS,
                    "404": _error("Unknown report format.",
                                  example={"error": "unknown report format 'docx'; use one of: "
                                                    + ", ".join(formats.NAMES)}),
                    "413": _response("TooLarge"),
                    "415": _response("UnsupportedMediaType"),
                    "409": _error("A submit with the same Idempotency-Key was refused a moment ago; send it again.",
                                  headers={"Retry-After": _header("RetryAfterRequired")}),
                    "422": _error("The Idempotency-Key was used in the last 24 hours for a different request "
                                  "(another format or body)."),
                    "503": _error("The job queue is unavailable; the report was stored as FAILURE "
                                  "(`details.task_id`). Submit again after Retry-After.",
                                  headers={"Retry-After": _header("RetryAfterRequired")}),
                },
            },
        },
        "/assignment/sequence": {
            "post": {
                "operationId": "sequenceStudents",
                "summary": "Label units and order each student's events, without a report",
                "tags": ["reports"],
                "parameters": [{"name": "metrics", "in": "query", "schema": {"type": "string", "enum": ["0", "1"],
                                                                          "default": "0"},
                                "description": "1: also each student's metrics, each class's ranges and the options."}],
                "requestBody": _submission_body(config),
                "responses": {
                    "200": {"description": "The labels and each student's sequence.", "content": _json(ref("Sequence"))},
                    **body_errors,
                    "401": _response("Unauthorized"),
                    "429": _response("TooManyRequests"),
                },
            },
        },
        "/assignment/{report_format}/{task_id}": {
            "parameters": [_param("report_format"), _param("task_id")],
            "get": {
                "operationId": "getReport",
                "summary": "Poll a report, read its metadata or download it",
                "tags": ["reports"],
                "parameters": [
                    {"name": "Accept", "in": "header", "schema": {"type": "string"},
                     "description": "`application/json` for the metadata instead of the document."},
                    {"name": "bundle", "in": "query", "schema": {"type": "string", "enum": ["zip"]},
                     "description": "`zip`: every student's own document in one ZIP."},
                    _param("bom"),
                ],
                "responses": {
                    "200": status_200,
                    "202": pending,
                    **download_extras,
                    "400": _error("A bad `bundle` or `bom` value."),
                    **COMMON_ERRORS,
                    "404": _response("NotFound"),
                    "410": {"description": ("CANCELED: the status, with `error` saying so; or the report's stored "
                                            "input and documents were deleted (expired after "
                                            "REPORTGEN_RETENTION_DAYS, or deleted by its owner): an error, while "
                                            "`Accept: application/json` still answers the metadata."),
                            "content": _json({"anyOf": [ref("ReportStatus"), ref("Error")]})},
                    "500": {"description": "FAILURE: the report could not be made; `error` says why.",
                            "content": _json(ref("ReportStatus"))},
                },
            },
            "delete": {
                "operationId": "deleteReport",
                "summary": "Cancel a pending or running report, or delete a finished one's data",
                "description": ("A PENDING or STARTED report is canceled (status CANCELED; its jobs stop, no email "
                                "or webhook but the cancellation's). A finished report's stored input and documents "
                                "are deleted (`purged_at`, `purge_reason: deleted`); later downloads answer 410."),
                "tags": ["reports"],
                "responses": {
                    "200": {"description": "The report's status after the cancel or delete.",
                            "content": _json(ref("ReportStatus"))},
                    **COMMON_ERRORS,
                    "404": _response("NotFound"),
                },
            },
        },
        "/assignment/{report_format}/{task_id}/students/{position}": {
            "parameters": [_param("report_format"), _param("task_id"),
                           {"name": "position", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                            "description": "The student's place in the upload, from 0."}],
            "get": {
                "operationId": "getStudentDocument",
                "summary": "One student's own document",
                "tags": ["reports"],
                "parameters": [_param("bom")],
                "responses": {
                    "200": {"description": "The student's document.",
                            "headers": {"ETag": _header("ETag"), "Content-Disposition": _header("ContentDisposition")},
                            "content": _document_content()},
                    "202": {"description": "This student's document is still being made.",
                            "content": _json(ref("StudentDocumentStatus"))},
                    **download_extras,
                    "400": _error("A bad `bom` value."),
                    **COMMON_ERRORS,
                    "404": _response("NotFound"),
                    "500": {"description": "This student's document failed; `error` says why.",
                            "content": _json(ref("StudentDocumentStatus"))},
                },
            },
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process is up",
                "tags": ["operations"],
                "security": [],
                "responses": {"200": {"description": "Up.", "content": _json(ref("Health"))}},
            },
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the database, Redis and at least one worker are up",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {"description": "Ready.", "content": _json(ref("Readiness"))},
                    "503": {"description": "Not ready; `checks` names what is down.", "content": _json(ref("Readiness"))},
                },
            },
        },
    }


def _components() -> dict:
    rate_headers = {name: _header(name) for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")}
    integer = {"type": "integer", "minimum": 0}
    return {
        "schemas": _schemas(),
        "parameters": {
            "report_format": {"name": "report_format", "in": "path", "required": True,
                              "schema": {"type": "string", "enum": list(formats.NAMES)},
                              "description": "The report's format."},
            "task_id": {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "The `task_id` the submit answered."},
            "bom": {"name": "bom", "in": "query", "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                    "description": "1: start a CSV download (each file in a ZIP) with a UTF-8 byte-order mark for "
                                   "Excel; CSV only."},
            "Idempotency-Key": {
                "name": "Idempotency-Key", "in": "header",
                "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
                "description": ("Makes a retried submit safe: the same key with the same body answers the original "
                                "report (202, `Idempotent-Replayed: true`) for 24 hours per client; with another body, "
                                "422; a malformed key, 400."),
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
            "BadSubmission": _error(
                "The submission is invalid: every problem by path, the first "
                f"{MAX_PROBLEMS} of them (`errors_not_shown` counts the rest); also malformed JSON, an email "
                "without SMTP, a refused `callback_url` or a malformed Idempotency-Key.",
                example={"error": "invalid submission: 1 problem", "details": {"[0].events[0].unit": "is required"}}),
            "TooLarge": _error("The body is over MAX_CONTENT_LENGTH, or holds more students and events (CSV rows) "
                               "than REPORTGEN_MAX_UPLOAD_OBJECTS."),
            "UnsupportedMediaType": _error("Not JSON or CSV: send Content-Type application/json or text/csv."),
            "NotFound": _error("No report of this format with this task id that this client may see (another "
                               "token's report is not found either), or no student at this position."),
            "Unauthorized": _error("API tokens are set and the request has none, or a wrong one.",
                                   headers={"WWW-Authenticate": _header("WWW-Authenticate")}),
            "Forbidden": _error("Refused: the server can be reached from other machines and has no API tokens, so "
                                "it cannot tell API clients apart and shows no report through the API (`details` "
                                "names the variables to set)."),
            "TooManyRequests": _error("Over the client's rate limit (REPORTGEN_RATE_LIMIT; submits also "
                                      "REPORTGEN_SUBMIT_RATE_LIMIT).",
                                      headers={"Retry-After": _header("RetryAfterRequired"), **rate_headers}),
            "MethodNotAllowed": _error("Any method a path does not list here.",
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


def _webhooks() -> dict:
    signed = {name: {"required": True, "schema": {"type": "string"}} for name in WEBHOOK_HEADERS}
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
                                "shows in the report's `deliveries`."),
                "parameters": [{"name": name, "in": "header", **header} for name, header in signed.items()],
                "requestBody": {"required": True,
                                "description": ("A SUCCESS report's metadata (as `Accept: application/json` answers "
                                                "it), else its status with `error`; without `deliveries`."),
                                "content": _json({"anyOf": [ref("ReportMetadata"), ref("ReportStatus")]})},
                "responses": {"2XX": {"description": "Received; nothing more is sent."},
                              "default": {"description": "429 and 5xx are retried; anything else is not."}},
            },
        },
    }


def document(config: Mapping[str, Any]) -> dict:
    """The OpenAPI description of this server, with the limits ``config`` sets."""
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "reportgen",
            "version": API_VERSION,
            "summary": "Learning-activity JSON or CSV in, HTML, PDF and CSV reports out.",
            "description": ("Submit students and their events; the report is made by workers in the background. "
                            "Poll the status URL (202 while it renders), then download the document or read its "
                            "metadata. Errors are JSON: `{\"error\", \"details\", \"errors_not_shown\"}`. Any method "
                            "a path does not list answers 405 with `Allow`. Response objects may gain fields: "
                            "ignore the ones you do not know."),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "reports", "description": "Submit, poll, download, cancel."},
                 {"name": "operations", "description": "Health checks; never need a token."}],
        "security": [{"bearerToken": []}, {"operatorSession": []}, {}],
        "paths": _paths(config),
        "webhooks": _webhooks(),
        "components": _components(),
    }
