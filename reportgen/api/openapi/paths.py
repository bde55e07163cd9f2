"""The description's paths: every route of the API and the health checks, with the limits the
server's config sets."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...domain.csv_export import HEADER as CSV_EXPORT_HEADER
from ...domain.csv_export import STUDENT_HEADER, TABLES, UNIT_HEADER
from ...domain.csv_import import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from ...render import formats
from .shapes import JSON, ZIP, document_content, error, header, json_content, param, ref, response


def csv_description() -> str:
    return ("A table with a header row naming " + " and ".join(f"`{c}`" for c in REQUIRED_COLUMNS)
            + " (and optionally " + ", ".join(f"`{c}`" for c in OPTIONAL_COLUMNS) + "); one row per event, "
            "UTF-8 with or without a byte-order mark, comma, semicolon or tab. A CSV report downloaded from here ("
            + ", ".join(CSV_EXPORT_HEADER) + ") uploads as it is. A CSV has no envelope: no email, options or "
            "callback_url. A Moodle log download (Reports → Logs → Download as CSV: Time, User full name, Affected "
            "user, Event context, Component, Event name, Description, Origin, IP address) is read as one event a row; "
            "see `day_first`, `timezone` and `exclude_users`.")


#: The query parameters of the two paths that take data: how to read a file of another platform.
IMPORT_PARAMETERS = [param(name) for name in ("input", "namespace", "day_first", "timezone", "exclude_users")]


def submission_body(config: Mapping[str, Any]) -> dict:
    limit = config.get("MAX_CONTENT_LENGTH")
    objects = config.get("REPORTGEN_MAX_UPLOAD_OBJECTS")
    return {
        "required": True,
        "description": (f"At most {limit:,} bytes (MAX_CONTENT_LENGTH) and {objects:,} students and events, or CSV "
                        "rows (REPORTGEN_MAX_UPLOAD_OBJECTS); more is 413. Any `application/*+json` type is read as "
                        "JSON; other types are 415. Besides reportgen's own JSON and CSV: xAPI statements, a Moodle "
                        "log download and Caliper events, recognised from the content (or named by `?input=`); "
                        "see `ImportedData`.") if limit and objects else "JSON or CSV.",
        "content": {
            JSON: {"schema": {"anyOf": [ref("Submission"), ref("ImportedData")]}, "examples": {
                "students": {"summary": "Students alone", "value": [
                    {"student_id": "alice", "namespace": "python-101", "events": [
                        {"unit": 17, "type": "saved_code", "created_time": "2024-07-21T03:04:55Z"}]}]},
                "envelope": {"summary": "An envelope", "value": {
                    "students": [{"student_id": "alice", "namespace": "python-101",
                                  "events": [{"unit": 17, "created_time": "2024-07-21T03:04:55Z"}]}],
                    "email": ["teacher@example.org"],
                    "options": {"idle_cutoff_minutes": 20, "window": {"from": "2024-07-01", "to": "2024-07-31"}},
                    "callback_url": "https://lms.example.org/hooks/reportgen"}},
                "xapi": {"summary": "xAPI statements (an LRS export)", "value": [
                    {"id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0", "timestamp": "2024-07-21T03:04:55Z",
                     "actor": {"account": {"homePage": "https://lms.example.org", "name": "alice"}},
                     "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
                     "object": {"id": "https://lms.example.org/mod/quiz/view.php?id=17",
                                "definition": {"name": {"en": "Week 3 quiz"}}}}]},
                "caliper": {"summary": "A Caliper envelope", "value": {
                    "sensor": "https://lms.example.org/sensor", "sendTime": "2024-07-21T03:05:00.000Z",
                    "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
                    "data": [{"id": "urn:uuid:7e10e4f3-a0d8-4430-95bd-783ffae4d916", "type": "NavigationEvent",
                              "actor": {"id": "https://lms.example.org/users/alice", "type": "Person"},
                              "action": "NavigatedTo",
                              "object": {"id": "https://lms.example.org/pages/intro", "name": "Introduction"},
                              "group": {"id": "https://lms.example.org/courses/python-101"},
                              "eventTime": "2024-07-21T03:04:55.000Z"}]}},
            }},
            "text/csv": {"schema": {"type": "string", "description": csv_description()},
                         "example": "student_id,namespace,unit,created_time\nalice,python-101,17,2024-07-21T03:04:55Z\n"},
        },
    }


def period_or_submission(body: dict) -> dict:
    """The submit's body: an upload, or a report from a class's history (``PeriodRequest``)."""
    json_body = body["content"][JSON]
    return {**body, "content": {**body["content"], JSON: {
        **json_body, "schema": {"anyOf": [json_body["schema"], ref("PeriodRequest")]},
        "examples": {**json_body["examples"], "period": {
            "summary": "A month of a class's history", "value": {"namespace": "python-101", "period": "2024-12"}}}}}}


COMMON_ERRORS = {"401": response("Unauthorized"), "403": response("Forbidden"), "429": response("TooManyRequests")}


def paths(config: Mapping[str, Any]) -> dict:
    body_errors = {
        "400": response("BadSubmission"),
        "413": response("TooLarge"),
        "415": response("UnsupportedMediaType"),
        "503": error("The server is parsing other large uploads (over 1 MiB); nothing was stored. Send it again "
                     "after Retry-After.", headers={"Retry-After": header("RetryAfterRequired")}),
    }
    status_200 = {
        "description": ("SUCCESS: the document itself (HTML inline, the others as attachments, with an ETag of its "
                        "sha256), or with `Accept: application/json` the report's metadata (also for a deleted "
                        "report), or with `?bundle=zip` a ZIP of every student's own document."),
        "headers": {"ETag": header("ETag"), "Content-Disposition": header("ContentDisposition")},
        "content": {JSON: {"schema": ref("ReportMetadata")}, **document_content(),
                    ZIP: {"schema": {"type": "string", "contentMediaType": ZIP}}},
    }
    pending = {
        "description": "PENDING or STARTED: poll again after Retry-After seconds.",
        "headers": {"Retry-After": header("RetryAfterRequired")},
        "content": json_content(ref("ReportStatus")),
    }
    download_extras = {
        "206": {"description": "The requested range of the document (`Range`).",
                "content": {mt: {"schema": {"type": "string"}} for mt in document_content()}},
        "304": {"description": "Not modified: the `If-None-Match` ETag is still the document's."},
        "416": error("The `Range` is not satisfiable."),
        "410": error("The report's stored input and documents were deleted (expired after "
                      "REPORTGEN_RETENTION_DAYS, or deleted by its owner), or the report was canceled."),
    }
    return {
        "/assignment/{report_format}": {
            "post": {
                "operationId": "submitReport",
                "summary": "Submit students for a report",
                "description": ("Validates the whole upload at once (every problem by path), stores it and queues "
                                "the report. Send `Idempotency-Key` to retry safely: the same key with the same "
                                "body answers the original report again (`Idempotent-Replayed: true`); a JSON body "
                                "is compared by its content, so other whitespace or key order is the same body. "
                                "Several formats of one upload: POST /assignment."),
                "tags": ["reports"],
                "parameters": [param("report_format"), param("Idempotency-Key"), *IMPORT_PARAMETERS],
                "requestBody": period_or_submission(submission_body(config)),
                "responses": {
                    "202": {
                        "description": ("Queued (or, with a replayed Idempotency-Key, the original report's "
                                        "status). Poll `status_url` (absolute, as every link of a status)."),
                        "headers": {"Location": {"description": "The status URL.", "required": True,
                                                 "schema": {"type": "string"}},
                                    "Idempotent-Replayed": {"description": "`true` when this answers an earlier "
                                                            "submit with the same Idempotency-Key.",
                                                            "schema": {"type": "string", "enum": ["true"]}}},
                        "content": json_content(ref("ReportStatus")),
                    },
                    "400": response("BadSubmission"),
                    **COMMON_ERRORS,
                    "404": error("Unknown report format, or (a period report) no class with this namespace.",
                                  example={"error": "unknown report format 'docx'; use one of: "
                                                    + ", ".join(formats.NAMES)}),
                    "413": response("TooLarge"),
                    "415": response("UnsupportedMediaType"),
                    "409": error("A submit with the same Idempotency-Key was refused a moment ago; send it again.",
                                  headers={"Retry-After": header("RetryAfterRequired")}),
                    "422": error("The Idempotency-Key was used in the last 24 hours for a different request "
                                  "(another format or body); or a period report's class has no events in the "
                                  "period (`python-101 has no events in December 2024 (Europe/Berlin)`)."),
                    "503": error("The job queue is unavailable: the report was stored as FAILURE "
                                  "(`details.task_id`); or the server is parsing other large uploads (over 1 MiB): "
                                  "nothing was stored. Either way, submit again after Retry-After.",
                                  headers={"Retry-After": header("RetryAfterRequired")}),
                },
            },
        },
        "/assignment": {
            "post": {
                "operationId": "submitReports",
                "summary": "Submit one upload for several formats at once",
                "description": (
                    "An envelope with `formats` (e.g. `[\"pdf\", \"html\", \"csv\"]`): the upload is read and "
                    "prepared once and makes one report per format, grouped as one submission with one status page "
                    "(`status_page_url`). Each report sends its own webhook to `callback_url`; each address in "
                    "`email` gets one email with every format once all have ended, as from the upload form. An "
                    "`Idempotency-Key` covers the whole submit: the same key with the same content (whitespace and "
                    "key order aside) answers every report again (`Idempotent-Replayed: true`). Only a JSON envelope "
                    "has `formats`; send a CSV or another platform's file to /assignment/{report_format}."),
                "tags": ["reports"],
                "parameters": [param("Idempotency-Key")],
                "requestBody": {"required": True, "content": {JSON: {
                    "schema": ref("Envelope"),
                    "example": {"students": [{"student_id": "alice", "namespace": "python-101",
                                              "events": [{"unit": 17, "created_time": "2024-07-21T03:04:55Z"}]}],
                                "formats": ["pdf", "html", "csv"], "label": "Week 3, group B",
                                "callback_url": "https://lms.example.org/hooks/reportgen"}}}},
                "responses": {
                    "202": {
                        "description": "Queued (or, with a replayed Idempotency-Key, the original reports' status).",
                        "headers": {"Location": {"description": "The status page (`status_page_url`).",
                                                 "required": True, "schema": {"type": "string"}},
                                    "Idempotent-Replayed": {"description": "`true` when this answers an earlier "
                                                            "submit with the same Idempotency-Key.",
                                                            "schema": {"type": "string", "enum": ["true"]}}},
                        "content": json_content(ref("UploadAccepted")),
                    },
                    "400": response("BadSubmission"),
                    **COMMON_ERRORS,
                    "409": error("A submit with the same Idempotency-Key was refused a moment ago; send it again.",
                                  headers={"Retry-After": header("RetryAfterRequired")}),
                    "413": response("TooLarge"),
                    "415": response("UnsupportedMediaType"),
                    "422": error("The Idempotency-Key was used in the last 24 hours for a different request "
                                 "(another path, format or content)."),
                    "503": error("The job queue is unavailable: the reports were stored as FAILURE "
                                  "(`details.task_ids`); or the server is parsing other large uploads (over 1 MiB): "
                                  "nothing was stored. Either way, submit again after Retry-After.",
                                  headers={"Retry-After": header("RetryAfterRequired")}),
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
                                "description": "1: also each student's metrics, each class's ranges and the options."},
                               *IMPORT_PARAMETERS],
                "requestBody": submission_body(config),
                "responses": {
                    "200": {"description": "The labels and each student's sequence.", "content": json_content(ref("Sequence"))},
                    **body_errors,
                    "401": response("Unauthorized"),
                    "429": response("TooManyRequests"),
                },
            },
        },
        "/assignment/{report_format}/{task_id}": {
            "parameters": [param("report_format"), param("task_id")],
            "get": {
                "operationId": "getReport",
                "summary": "Poll a report, read its metadata or download it",
                "tags": ["reports"],
                "parameters": [
                    {"name": "Accept", "in": "header", "schema": {"type": "string"},
                     "description": "`application/json` for the metadata instead of the document."},
                    {"name": "bundle", "in": "query", "schema": {"type": "string", "enum": ["zip"]},
                     "description": "`zip`: every student's own document in one ZIP."},
                    param("bom"),
                    {"name": "table", "in": "query", "schema": {"type": "string", "enum": list(TABLES),
                                                                 "default": TABLES[0]},
                     "description": (
                         "CSV reports only: `events` is the event log (the stored document, one row per event); "
                         "`students` one row per student (columns " + ", ".join(f"`{c}`" for c in STUDENT_HEADER)
                         + "); `units` one row per student and unit they reached (columns "
                         + ", ".join(f"`{c}`" for c in UNIT_HEADER) + "). Made from the stored figures of the "
                         "students that succeeded; times ISO 8601 in the report's `timezone` (UTC: `Z`); cells "
                         "that a spreadsheet would run as a formula start with an apostrophe. With `bom=1` the "
                         "file name ends in `-excel.csv`.")},
                ],
                "responses": {
                    "200": status_200,
                    "202": pending,
                    **download_extras,
                    "400": error("A bad `bundle`, `bom` or `table` value, or `table` on another format than CSV "
                                 "or with `bundle`; `details.table` says which."),
                    **COMMON_ERRORS,
                    "404": response("NotFound"),
                    "410": {"description": ("CANCELED: the status, with `error` saying so; or the report's stored "
                                            "input and documents were deleted (expired after "
                                            "REPORTGEN_RETENTION_DAYS, or deleted by its owner): an error, while "
                                            "`Accept: application/json` still answers the metadata."),
                            "content": json_content({"anyOf": [ref("ReportStatus"), ref("Error")]})},
                    "500": {"description": "FAILURE: the report could not be made; `error` says why.",
                            "content": json_content(ref("ReportStatus"))},
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
                            "content": json_content(ref("ReportStatus"))},
                    **COMMON_ERRORS,
                    "404": response("NotFound"),
                },
            },
        },
        "/assignment/{report_format}/{task_id}/students/{position}": {
            "parameters": [param("report_format"), param("task_id"),
                           {"name": "position", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                            "description": "The student's place in the upload, from 0."}],
            "get": {
                "operationId": "getStudentDocument",
                "summary": "One student's own document",
                "tags": ["reports"],
                "parameters": [param("bom"),
                               {"name": "table", "in": "query", "schema": {"type": "string", "enum": ["events"]},
                                "description": "Only `events`: the summary tables are of the whole report."}],
                "responses": {
                    "200": {"description": "The student's document.",
                            "headers": {"ETag": header("ETag"), "Content-Disposition": header("ContentDisposition")},
                            "content": document_content()},
                    "202": {"description": "This student's document is still being made.",
                            "content": json_content(ref("StudentDocumentStatus"))},
                    **download_extras,
                    "400": error("A bad `bom` value, or a summary `table`."),
                    **COMMON_ERRORS,
                    "404": response("NotFound"),
                    "500": {"description": "This student's document failed; `error` says why.",
                            "content": json_content(ref("StudentDocumentStatus"))},
                },
            },
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process is up",
                "tags": ["operations"],
                "security": [],
                "responses": {"200": {"description": "Up.", "content": json_content(ref("Health"))}},
            },
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the database, Redis and at least one worker are up",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {"description": "Ready.", "content": json_content(ref("Readiness"))},
                    "503": {"description": "Not ready; `checks` names what is down.", "content": json_content(ref("Readiness"))},
                },
            },
        },
    }
