"""The description of class histories: the ``/namespaces`` routes, the period report's request
and their schemas (merged into the document by :func:`reportgen.api.openapi.document`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...domain.periods import MAX_TIMEZONE_CHARS
from ...domain.roster import MAX_EMAIL_CHARS, MAX_ROSTER_ENTRIES
from ...history.store import MAX_NAMESPACE_CHARS
from .shapes import error, json_content, nullable, ref, response

TIME = {"type": "string", "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}
COMMON = {"401": response("Unauthorized"), "403": response("Forbidden"), "429": response("TooManyRequests")}
NOT_FOUND = error("No class with this namespace that this client may see (another token's class is not found "
                  "either).", example={"error": "no class with this namespace"})


def _period() -> dict:
    return {"type": "object", "required": ["kind", "name", "timezone", "from", "to"], "properties": {
        "kind": {"type": "string", "enum": ["month", "week", "window"]},
        "name": {"type": "string", "examples": ["December 2024"]},
        "timezone": {"type": "string"},
        "period": {"type": "string", "examples": ["2024-12", "2024-W50"]},
        "from": {**TIME, "description": "The first instant (local time with its offset)."},
        "to": {**TIME, "description": "The end, exclusive."}}}


def schemas() -> dict:
    class_summary = {
        "type": "object", "required": ["namespace", "timezone", "students", "events", "first_event", "last_event",
                                       "last_added"],
        "properties": {
            "namespace": {"type": "string"}, "timezone": {"type": "string"},
            "students": COUNT, "events": COUNT,
            "first_event": nullable(TIME), "last_event": nullable(TIME),
            "last_added": {**nullable(TIME), "description": "When events were last added (not merely sent)."}}}
    totals = {"active_students": COUNT, "events": COUNT, "time_on_task_seconds": COUNT, "active_days": COUNT}
    spread = nullable({"type": "object", "required": ["p15", "median", "p85"],
                       "properties": {key: {"type": "number"} for key in ("p15", "median", "p85")}})
    return {
        "ClassSummary": class_summary,
        "ClassList": {"type": "object", "required": ["namespaces"],
                      "properties": {"namespaces": {"type": "array", "items": ref("ClassSummary")}}},
        "ClassDetail": {"allOf": [ref("ClassSummary"), {
            "type": "object", "required": ["months", "students_list"],
            "properties": {
                "months": {"type": "array", "description": "Events per calendar month in the class's zone.",
                           "items": {"type": "object", "required": ["month", "events"],
                                     "properties": {"month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                                    "events": COUNT}}},
                "students_list": {"type": "array", "items": {
                    "type": "object", "required": ["student_id", "events", "first_event", "last_event"],
                    "properties": {"student_id": {"type": "string"}, "events": COUNT,
                                   "first_event": nullable(TIME), "last_event": nullable(TIME)}}}}}]},
        "Appended": {
            "type": "object",
            "required": ["namespace", "received", "added", "duplicates", "students", "first_event", "last_event"],
            "properties": {
                "namespace": {"type": "string"},
                "received": {**COUNT, "description": "Events in the request."},
                "added": {**COUNT, "description": "Events stored now."},
                "duplicates": {**COUNT, "description": (
                    "Events stored already, left out: the same student, unit, type and created_time as a stored "
                    "event (or an earlier one of this request), or, where the event carries an `id`, an id that "
                    "student's history holds already (stored before or earlier in this request), whatever the "
                    "event's time and unit.")},
                "students": {**COUNT, "description": "Students in the request."},
                "first_event": {**nullable(TIME), "description": "The request's first event."},
                "last_event": {**nullable(TIME), "description": "The request's last event."}}},
        "ClassSettings": {"type": "object", "additionalProperties": False, "properties": {
            "timezone": {"type": "string", "maxLength": MAX_TIMEZONE_CHARS, "examples": ["Europe/Berlin"],
                         "description": "An IANA zone: the class's months and weeks are its calendar's."}}},
        "Erased": {"type": "object", "required": ["namespace"], "properties": {
            "namespace": {"type": "string"}, "student_id": {"type": "string"},
            "students_erased": COUNT, "events_erased": COUNT}},
        "Period": _period(),
        "RosterEntry": {"type": "object", "required": ["student_id"], "additionalProperties": False, "properties": {
            "student_id": {"type": "string", "maxLength": 256},
            "name": {**nullable({"type": "string", "maxLength": 200}),
                     "description": "Shown with the id in the class's reports: \"Ada Lovelace · s-001\"."},
            "email": {**nullable({"type": "string", "format": "email", "maxLength": MAX_EMAIL_CHARS}),
                      "description": "Where a subscription with `students: true` sends this student's own report."}}},
        "Roster": {"type": "object", "required": ["namespace", "roster"], "properties": {
            "namespace": {"type": "string"},
            "roster": {"type": "array", "items": ref("RosterEntry")}}},
        "RosterStored": {"type": "object", "required": ["namespace", "students", "with_name", "with_email"],
                         "properties": {"namespace": {"type": "string"}, "students": COUNT, "with_name": COUNT,
                                        "with_email": COUNT}},
        "ClassPeriodSummary": {
            "type": "object",
            "required": ["namespace", "period", "students", *totals, "time_on_task", "flags", "previous",
                         "change_percent", "reports"],
            "properties": {
                "namespace": {"type": "string"}, "period": ref("Period"), "students": COUNT, **totals,
                "time_on_task": {**spread, "description": "Seconds over the active students: 15th percentile, "
                                                          "median, 85th (null without any)."},
                "flags": {"type": "object", "description": ("How many students carry each flag this summary can "
                                                            "tell from times alone: went quiet, low time on task, "
                                                            "late start."),
                          "additionalProperties": COUNT},
                "previous": {"type": "object", "required": ["period", *totals],
                             "properties": {"period": ref("Period"), **totals}},
                "change_percent": {"type": "object", "description": "Against the previous period; null where it had 0.",
                                   "additionalProperties": nullable({"type": "integer"})},
                "reports": {"type": "array", "items": {
                    "type": "object", "required": ["task_id", "format", "status", "status_url"],
                    "properties": {"task_id": {"type": "string"}, "format": {"type": "string"},
                                   "status": {"type": "string"}, "student_id": nullable({"type": "string"}),
                                   "status_url": {"type": "string"}, "created_at": nullable(TIME)}}}}},
        "PeriodRequest": {
            "type": "object", "required": ["namespace"],
            "description": ("A report from a class's history: the students with events in the period (or the one "
                            "named), as an upload of their events with the period as its window. Give `period` "
                            "or `window`."),
            "properties": {
                "namespace": {"type": "string", "maxLength": MAX_NAMESPACE_CHARS},
                "period": {"type": "string", "pattern": "^[0-9]{4}-(W)?[0-9]{2}$", "examples": ["2024-12", "2024-W50"],
                           "description": "A calendar month or an ISO week, in the class's time zone."},
                "window": {"type": "object", "required": ["from", "to"], "properties": {
                    "from": {"type": "string"}, "to": {"type": "string"}},
                    "description": "Dates (inclusive) or date-times; without an offset, in the class's zone."},
                "student_id": {"type": "string", "description": "One student's report."},
                "label": {"type": "string", "maxLength": 200},
                "options": ref("Options"),
                "email": {"description": "As an upload's envelope."},
                "callback_url": {"type": "string", "format": "uri"}}},
    }


def paths(config: Mapping[str, Any]) -> dict:
    namespace = {"name": "namespace", "in": "path", "required": True,
                 "schema": {"type": "string", "maxLength": MAX_NAMESPACE_CHARS},
                 "description": "The class: the namespace its students' events carry."}
    body = {
        "required": True,
        "description": ("Anything `POST /assignment/{report_format}` takes (JSON students or envelope, CSV); a "
                        "student's `namespace` must be absent or this one. Every event needs a `created_time`. "
                        "All or nothing."),
        "content": {"application/json": {"schema": ref("Submission")},
                    "text/csv": {"schema": {"type": "string"}}},
    }
    return {
        "/namespaces": {"get": {
            "operationId": "listClasses", "summary": "The caller's classes", "tags": ["classes"],
            "responses": {"200": {"description": "Every class this client may see.",
                                  "content": json_content(ref("ClassList"))}, **COMMON}}},
        "/namespaces/{namespace}": {
            "parameters": [namespace],
            "get": {"operationId": "getClass", "summary": "A class, with events per month and its students",
                    "tags": ["classes"],
                    "responses": {"200": {"description": "The class.", "content": json_content(ref("ClassDetail"))},
                                  "404": NOT_FOUND, **COMMON}},
            "put": {"operationId": "setClass", "summary": "Set a class's time zone", "tags": ["classes"],
                    "requestBody": {"required": True, "content": json_content(ref("ClassSettings"))},
                    "responses": {"200": {"description": "The class.", "content": json_content(ref("ClassSummary"))},
                                  "400": response("BadSubmission"), "404": NOT_FOUND,
                                  "415": response("UnsupportedMediaType"), **COMMON}},
            "delete": {"operationId": "eraseClass", "summary": "Erase a class and all its stored events",
                       "tags": ["classes"],
                       "responses": {"200": {"description": "What was erased.", "content": json_content(ref("Erased"))},
                                     "404": NOT_FOUND, **COMMON}}},
        "/namespaces/{namespace}/events": {
            "parameters": [namespace],
            "post": {"operationId": "appendEvents", "summary": "Append events to a class's history",
                     "description": (
                         "Idempotent: events stored already are counted as duplicates and left out. A duplicate is "
                         "an event of the same student, unit, type and `created_time` as a stored one, or one whose "
                         "`id` (JSON `id`, an xAPI statement's `id`, a Caliper event's `id`) that student's history "
                         "holds already, even with another time or unit (an LRS export re-timed). Moodle logs and "
                         "CSV carry no ids: their events are judged by the four fields alone."),
                     "tags": ["classes"], "requestBody": body,
                     "responses": {"200": {"description": "What was added.", "content": json_content(ref("Appended"))},
                                   "400": response("BadSubmission"), "413": response("TooLarge"),
                                   "415": response("UnsupportedMediaType"), **COMMON}}},
        "/namespaces/{namespace}/students/{student_id}": {
            "parameters": [namespace, {"name": "student_id", "in": "path", "required": True,
                                       "schema": {"type": "string"}}],
            "delete": {"operationId": "eraseStudent", "summary": "Erase one student's stored events (right to erasure)",
                       "tags": ["classes"],
                       "responses": {"200": {"description": "What was erased.", "content": json_content(ref("Erased"))},
                                     "404": error("No such class, or no such student in it."), **COMMON}}},
        "/namespaces/{namespace}/roster": {
            "parameters": [namespace],
            "put": {"operationId": "putRoster", "summary": "Replace a class's roster (names and addresses of its ids)",
                    "description": (f"At most {MAX_ROSTER_ENTRIES:,} students; all or nothing. A student missing "
                                    "from the roster keeps its bare id. A CSV cell starting with `=`, `+`, `-`, "
                                    "`@`, a tab or a carriage return is refused (a formula), unless it is a number."),
                    "tags": ["classes"],
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"type": "array", "maxItems": MAX_ROSTER_ENTRIES,
                                                        "items": ref("RosterEntry")}},
                        "text/csv": {"schema": {"type": "string"},
                                     "example": "student_id,name,email\ns-001,Ada Lovelace,ada@example.org\n"}}},
                    "responses": {"200": {"description": "What was stored.", "content": json_content(ref("RosterStored"))},
                                  "400": response("BadSubmission"), "404": NOT_FOUND, "413": response("TooLarge"),
                                  "415": response("UnsupportedMediaType"), **COMMON}},
            "get": {"operationId": "getRoster", "summary": "A class's roster", "tags": ["classes"],
                    "parameters": [{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv"]},
                                    "description": "`csv` for the roster as CSV (student_id, name, email)."}],
                    "responses": {"200": {"description": "The roster.", "content": {
                        **json_content(ref("Roster")), "text/csv": {"schema": {"type": "string"}}}},
                        "404": NOT_FOUND, **COMMON}}},
        "/namespaces/{namespace}/summary": {
            "parameters": [namespace],
            "get": {"operationId": "classSummary", "summary": "A class in a period, with the change from the one before",
                    "tags": ["classes"],
                    "parameters": [{"name": "period", "in": "query", "schema": {"type": "string"},
                                    "description": "2024-12 or 2024-W50 (else from and to)."},
                                   {"name": "from", "in": "query", "schema": {"type": "string"}},
                                   {"name": "to", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The summary.", "content": json_content(ref("ClassPeriodSummary"))},
                                  "400": response("BadSubmission"), "404": NOT_FOUND, **COMMON}}},
    }
