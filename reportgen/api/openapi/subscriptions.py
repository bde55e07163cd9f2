"""The description of subscriptions: the ``/subscriptions`` routes and their schemas (merged
into the document by :func:`reportgen.api.openapi.document`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...domain.schedules import EVERY, MAX_RECIPIENTS
from ...render.formats import NAMES
from .shapes import error, json_content, nullable, ref, response

TIME = {"type": "string", "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}
COMMON = {"401": response("Unauthorized"), "403": response("Forbidden"), "429": response("TooManyRequests")}
NOT_FOUND = error("No subscription with this id that this client may see.")
STATUSES = ["queued", "running", "mailing", "done", "partly failed", "failed", "skipped", "missed"]


def schemas() -> dict:
    fields = {
        "every": {"type": "string", "enum": list(EVERY)},
        "day": {"type": "integer", "minimum": 1, "maximum": 31,
                "description": ("Monthly: the day of the month after the period (29 to 31: the month's last day "
                                "when shorter). Weekly: the ISO weekday after the week (1 = Monday, up to 7).")},
        "time": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "examples": ["07:00"],
                 "description": "Local time in the class's zone."},
        "formats": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "enum": list(NAMES)}},
        "recipients": {"type": "array", "maxItems": MAX_RECIPIENTS, "items": {"type": "string", "format": "email"},
                       "description": "Who gets the class report, with a digest in the message."},
        "students": {"type": "boolean", "description": "Also email each student only their own report, to the "
                                                       "roster's address."},
        "skip_if_empty": {"type": "boolean", "description": "No reports and no mail for a period without events."},
        "options": nullable(ref("Options")),
        "callback_url": nullable({"type": "string", "format": "uri"}),
        "paused": {"type": "boolean"},
    }
    run = {"type": "object", "required": ["id", "period", "trigger", "status", "reports", "emails", "failures",
                                          "without_address"],
           "properties": {
               "id": COUNT, "period": {"type": "string", "examples": ["2024-11", "2024-W48"]},
               "trigger": {"type": "string", "enum": ["schedule", "manual"]},
               "status": {"type": "string", "enum": STATUSES}, "reason": nullable({"type": "string"}),
               "due_at": nullable(TIME), "created_at": nullable(TIME), "finished_at": nullable(TIME),
               "reports": {"type": "array", "items": {"type": "object", "required": ["task_id", "format", "status"],
                                                      "properties": {"task_id": {"type": "string"},
                                                                     "format": {"type": "string"},
                                                                     "status": {"type": "string"},
                                                                     "status_url": {"type": "string"}}}},
               "emails": {"type": "object", "required": ["total", "sent", "failed", "waiting", "success_rate"],
                          "properties": {"total": COUNT, "sent": COUNT, "failed": COUNT, "waiting": COUNT,
                                         "success_rate": nullable({"type": "number"})}},
               "failures": {"type": "array", "items": {"type": "object", "properties": {
                   "recipient": {"type": "string"}, "student_id": nullable({"type": "string"}),
                   "error": nullable({"type": "string"})}}},
               "without_address": {"type": "array", "items": {"type": "string"},
                                   "description": "Students of the report the roster gives no address."}}}
    return {
        "SubscriptionRequest": {"type": "object", "required": ["namespace", "every"], "additionalProperties": False,
                                "properties": {"namespace": {"type": "string"}, **fields}},
        "SubscriptionChange": {"type": "object", "additionalProperties": False, "properties": fields},
        "Subscription": {"type": "object", "required": ["id", "namespace", "timezone", *fields, "next_run",
                                                        "next_period", "last_run", "runs_url"],
                         "properties": {"id": COUNT, "namespace": {"type": "string"}, "timezone": {"type": "string"},
                                        **fields, "next_run": nullable(TIME),
                                        "next_period": nullable({"type": "string"}),
                                        "created_at": nullable(TIME), "last_run": nullable(ref("SubscriptionRun")),
                                        "runs_url": {"type": "string"}}},
        "SubscriptionRun": run,
    }


def paths(config: Mapping[str, Any]) -> dict:
    identifier = {"name": "subscription_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    bad = {"400": response("BadSubmission"), "415": response("UnsupportedMediaType")}
    one = {"200": {"description": "The subscription.", "content": json_content(ref("Subscription"))}}
    return {
        "/subscriptions": {
            "post": {"operationId": "createSubscription", "tags": ["subscriptions"],
                     "summary": "Make and email a class's reports every month or week",
                     "requestBody": {"required": True, "content": json_content(ref("SubscriptionRequest"))},
                     "responses": {"201": {"description": "Stored.", "content": json_content(ref("Subscription"))},
                                   **bad, "404": error("No class with this namespace."), **COMMON}},
            "get": {"operationId": "listSubscriptions", "tags": ["subscriptions"], "summary": "The caller's subscriptions",
                    "responses": {"200": {"description": "Every subscription this client may see.",
                                          "content": json_content({"type": "object", "required": ["subscriptions"],
                                                                   "properties": {"subscriptions": {
                                                                       "type": "array",
                                                                       "items": ref("Subscription")}}})},
                                  **COMMON}}},
        "/subscriptions/{subscription_id}": {
            "parameters": [identifier],
            "get": {"operationId": "getSubscription", "tags": ["subscriptions"], "summary": "A subscription",
                    "responses": {**one, "404": NOT_FOUND, **COMMON}},
            "patch": {"operationId": "changeSubscription", "tags": ["subscriptions"],
                      "summary": "Change a subscription; `\"paused\": true` pauses it",
                      "requestBody": {"required": True, "content": json_content(ref("SubscriptionChange"))},
                      "responses": {**one, **bad, "404": NOT_FOUND, **COMMON}},
            "delete": {"operationId": "deleteSubscription", "tags": ["subscriptions"], "summary": "Delete a subscription",
                       "responses": {"200": {"description": "Deleted.", "content": json_content({"type": "object"})},
                                     "404": NOT_FOUND, **COMMON}}},
        "/subscriptions/{subscription_id}/run": {
            "parameters": [identifier],
            "post": {"operationId": "runSubscription", "tags": ["subscriptions"],
                     "summary": "Make a period's reports now (once per period)",
                     "requestBody": {"required": False, "content": json_content({
                         "type": "object", "properties": {"period": {"type": "string", "examples": ["2024-11"]}}})},
                     "responses": {"202": {"description": "The run, queued.", "content": json_content(ref("SubscriptionRun"))},
                                   "400": response("BadSubmission"), "404": NOT_FOUND,
                                   "409": {"description": "The period has a run already (shown).",
                                           "content": json_content({"type": "object", "required": ["error", "run"],
                                                                    "properties": {"error": {"type": "string"},
                                                                                   "run": ref("SubscriptionRun")}})},
                                   **COMMON}}},
        "/subscriptions/{subscription_id}/runs": {
            "parameters": [identifier],
            "get": {"operationId": "subscriptionRuns", "tags": ["subscriptions"],
                    "summary": "A subscription's runs, newest first: reports, emails sent and failed with reasons",
                    "responses": {"200": {"description": "The runs.", "content": json_content({
                        "type": "object", "required": ["id", "runs"],
                        "properties": {"id": COUNT, "runs": {"type": "array", "items": ref("SubscriptionRun")}}})},
                        "404": NOT_FOUND, **COMMON}}},
    }
