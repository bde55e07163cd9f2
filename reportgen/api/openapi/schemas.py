"""The description's schemas: what a submission holds and what the API answers with. Values the
code names (statuses, formats, option ranges, caps, CSV columns) are read from it."""
from __future__ import annotations

from ...domain.importers import FORMATS as IMPORT_FORMATS
from ...domain.limits import MAX_CHARS
from ...domain.options import (DEFAULT_IDLE_CUTOFF_MINUTES, KNOWN_OPTIONS, MAX_IDLE_CUTOFF_MINUTES, MAX_NAME_CHARS,
                               MIN_IDLE_CUTOFF_MINUTES, WINDOW_KEYS)
from ...domain.submission import MAX_PROBLEMS, TIME_RANGE
from ...domain.upload import MAX_RECIPIENTS
from ...models import DONE, DeliveryStatus, Status
from ...render import formats
from .shapes import nullable, ref

#: Every status a report can have, and those it ends in.
STATUSES = tuple(status.value for status in Status)
FINISHED = DONE
PURGE_REASONS = ("expired", "deleted")
#: What every link of a status says about itself.
ABSOLUTE = ("Absolute: under REPORTGEN_PUBLIC_URL when the server sets it, else under the scheme and host the "
            "report was submitted to (a webhook's body too); relative only for a report submitted outside a request "
            "(the CLI) to a server without REPORTGEN_PUBLIC_URL.")


def schemas() -> dict:
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
            "id": {
                "oneOf": [{"type": "string", "minLength": 1, "maxLength": MAX_CHARS["id"], "pattern": r"\S"},
                          {"type": "integer"}],
                "description": ("The event's own id, where the data has one (7 and \"7\" are one id). Reports do not "
                                "read it; a class's history takes an event whose id that student's history holds "
                                "already for a duplicate, whatever its time or unit. xAPI statement ids and "
                                "Caliper event ids are read as this."),
                "examples": ["5f0e4bd2-7c34-4f0a-9b1f-3f7a2c6b9d10", 81723],
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
        "unit_names": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "object", "additionalProperties": {
                "type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}},
            "description": ("Namespace → unit → its name, shown beside the unit's Q label. An import (xAPI, Moodle, "
                            "Caliper) fills it from the file; names given here win."),
            "examples": [{"python-101": {"7": "Week 3 quiz"}}],
        },
        "student_names": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "object", "additionalProperties": {
                "type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}},
            "description": "Namespace → student id → the student's name, shown beside the id.",
            "examples": [{"python-101": {"s-042": "Amira Haddad"}}],
        },
        "timezone": {"type": ["string", "null"], "default": "UTC",
                     "description": ("An IANA time zone (e.g. `Europe/Berlin`): every time the report shows is in "
                                     "it, and it says so. The JSON and the window stay in UTC."),
                     "examples": ["Europe/Berlin", "America/New_York"]},
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
            "label": {"type": ["string", "null"], "maxLength": MAX_CHARS["label"],
                      "description": ("The report's title (the document's heading), the status page's and the "
                                      "emails' subject and attachment names, and `label` in the status JSON, as "
                                      f"the upload form's label field; at most {MAX_CHARS['label']} characters "
                                      "after trimming (else 400 naming `label`); blank is none."),
                      "examples": ["Week 3, group B"]},
            "formats": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "enum": names},
                        "description": ("POST /assignment only, and required there: one report of each format from "
                                        "this one upload. An unknown, repeated or missing name is 400 naming "
                                        "`formats[i]` (or `formats`); on /assignment/{report_format} it is 400."),
                        "examples": [["pdf", "html", "csv"]]},
            "keep": {"type": ["boolean", "null"], "default": False,
                     "description": ("true: also store the events in the history of each of the upload's namespaces "
                                     "(see /namespaces); every student needs a namespace and every event a "
                                     "created_time, else 400.")},
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
            "unit_names": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": {"type": "string"}}},
            "student_names": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": {"type": "string"}}},
            "timezone": {"type": ["string", "null"], "description": "null: UTC"},
        },
    }
    imported_data = {
        "type": ["object", "array"],
        "description": ("Another platform's data, read by reportgen's importers (issue 21; README “Bringing your "
                        "data”): xAPI statements (one statement, an array of them, a StatementResult "
                        "`{\"statements\": […]}`, or JSON Lines) or Caliper events (an envelope `{\"sensor\", "
                        "\"sendTime\", \"data\": […]}`, a list of events or of envelopes, one event, or JSON Lines). "
                        "Problems are named by the record: `statement 12`, `event 3`. No envelope: no email, options "
                        "or callback_url."),
    }
    read_input = {
        "type": ["object", "null"],
        "required": ["format", "records", "read", "used", "skipped", "skipped_because"],
        "description": ("What the upload was read as: its format (recognised from the content, or `?input=`) and "
                        "how many of its records were read, used and skipped, with why (fixed words, never the "
                        "data). null for reports made before uploads were read from other formats."),
        "properties": {
            "format": {"type": "string", "enum": list(IMPORT_FORMATS)},
            "records": {"type": "string", "enum": ["events", "rows", "statements"],
                        "description": "What a record of this format is."},
            "read": {"type": "integer", "minimum": 0},
            "used": {"type": "integer", "minimum": 0, "description": "Records that became events."},
            "skipped": {"type": "integer", "minimum": 0},
            "skipped_because": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1},
                                "description": "Why records were skipped → how many.",
                                "examples": [{"a group as actor": 2, "voided by another statement": 1}]},
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
            "sent_at": nullable(date_time),
            "status_code": {"type": ["integer", "null"], "description": "The receiver's last HTTP status (webhook)."},
            "delivered_at": nullable(date_time),
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
            "download_url": {"type": ["string", "null"],
                             "description": "This student's own document, when it succeeded. " + ABSOLUTE},
        },
    }
    status_properties = {
        "task_id": {"type": "string"},
        "request_id": {"type": ["string", "null"],
                       "description": "The X-Request-ID of the request that submitted the report (the caller's, "
                                      "else one made up); its jobs' log lines, its webhook and its email carry it."},
        "format": {"type": "string", "enum": names},
        "status": {"type": "string", "enum": list(STATUSES),
                   "description": "PENDING and STARTED go on; " + ", ".join(FINISHED) + " are final."},
        "progress": {
            "type": "object",
            "required": ["current", "total", "percent"],
            "properties": {"current": {"type": "integer", "minimum": 0}, "total": {"type": "integer", "minimum": 0},
                           "percent": {"type": "integer", "minimum": 0, "maximum": 100}},
        },
        "label": {"type": ["string", "null"], "description": "The submit's `label` (or the upload form's); null without one."},
        "status_url": {"type": "string", "format": "uri-reference", "description": ABSOLUTE},
        "student_count": {"type": "integer", "minimum": 0},
        "event_count": {"type": "integer", "minimum": 0},
        "attempts": {"type": ["integer", "null"], "minimum": 0},
        "created_at": nullable(date_time),
        "started_at": nullable(date_time),
        "finished_at": nullable(date_time),
        "options": ref("ReportOptions"),
        "input": ref("Input"),
        "events_left_out": {"type": "integer", "minimum": 0, "description": "Events outside the window."},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "expires_at": {**nullable(date_time),
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
    metrics = {"type": "object", "description": ("A student's activity metrics, as the report prints them; `flags` "
                                                 "farthest from the class first, `distance` from the class (1 = on "
                                                 "a flag's threshold).")}
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
            "download_url": {"type": "string", "format": "uri-reference", "description": ABSOLUTE},
            "bundle_url": {"type": "string", "format": "uri-reference",
                           "description": "Every student's own document in one ZIP. " + ABSOLUTE},
            "sequences": {"type": ["object", "null"], "description": "The labels and each student's sequence, "
                                                                     "as POST /assignment/sequence answers."},
            "students": {"type": "array", "items": {
                "type": "object", "required": ["student_id", "namespace", "metrics"],
                "properties": {"student_id": {"type": "string"}, "namespace": {"type": "string"},
                               "metrics": {"type": ["object", "null"]}}}},
            "cohort": {"type": "object", "description": ("Per namespace: the class's ranges of the metrics, its "
                                                         "`units` (reached by, median time, came back, saves per "
                                                         "submission), the `hardest_unit` and why, and the "
                                                         "`flag_thresholds` of this class.")},
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
            "input": ref("Input"),
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What went wrong, in plain words."},
            "details": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": MAX_PROBLEMS,
                        "description": ("Field path (`[2].events[5].created_time`, `options.window`, for CSV "
                                        "`row 7, column unit`; for another platform's file the record: "
                                        "`statement 12`, `event 3`, `row 7, column Time`; an import option by "
                                        "its name, `timezone`) → the problem there; at most "
                                        f"{MAX_PROBLEMS}.")},
            "errors_not_shown": {"type": "integer", "minimum": 1,
                                 "description": f"How many problems past the first {MAX_PROBLEMS} were left out."},
        },
    }
    upload_accepted = {
        "type": "object",
        "required": ["submission_id", "label", "task_ids", "formats", "status_page_url", "reports"],
        "properties": {
            "submission_id": {"type": "string", "description": "What the reports of this one upload share."},
            "label": {"type": ["string", "null"]},
            "task_ids": {"type": "array", "items": {"type": "string"},
                         "description": "Every report's task id, in the order of `formats` and `reports`."},
            "formats": {"type": "array", "items": {"type": "string", "enum": names},
                        "description": "The formats asked for, in the server's order (" + ", ".join(names) + ")."},
            "status_page_url": {"type": "string", "format": "uri-reference",
                                "description": "The one page that lists every report of the upload. " + ABSOLUTE},
            "reports": {"type": "array", "items": ref("ReportStatus"),
                        "description": "Each report's status; poll each one's `status_url`."},
        },
        "description": "A submit of several formats (POST /assignment): one report per format, one status page.",
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
        "ReportOptions": report_options, "Input": read_input, "ImportedData": imported_data, "Delivery": delivery, "SummaryStudent": summary_student,
        "ReportStatus": report_status, "ReportMetadata": report_metadata, "StudentDocumentStatus": item_status,
        "UploadAccepted": upload_accepted, "Sequence": sequence, "Error": error, "Health": health, "Readiness": readiness,
    }
