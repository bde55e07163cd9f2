"""The OpenAPI 3.1 description of the JSON API, built from the code it describes.

One function, :func:`document`, returns the whole description as a dict, from four parts:
:mod:`.shapes` (the small builders every part uses), :mod:`.schemas`, :mod:`.paths` and
:mod:`.components` (parameters, headers, responses, security and the webhook), (served as
``/openapi.json`` by :mod:`reportgen.api.docs`). Whatever the code already names is read from
it rather than written again, so the description cannot drift from the service: the formats and
their media types from :mod:`reportgen.render.formats`, the statuses from :mod:`reportgen.models`, the
options and their ranges from :mod:`reportgen.domain.options`, the caps from
:mod:`reportgen.domain.submission` and the CSV columns from :mod:`reportgen.domain.csv_import`;
limits a server sets (``MAX_CONTENT_LENGTH``, ``REPORTGEN_MAX_UPLOAD_OBJECTS``) come from the
app's config. ``tests/integration/test_openapi.py`` holds the description to the url map and validates
every API response the test suite gets against it.

Paths are written with Flask's own variable names (``{report_format}``), so a rule of the url
map and a documented path are the same text. Response objects allow fields they do not list:
clients are expected to ignore what they do not know, so adding a field never breaks one.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import classes, subscriptions
from .components import components, webhooks
from .paths import paths

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"


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
                            "ignore the ones you do not know. Every request may send `X-Request-ID` (1 to 128 of "
                            "`A-Z a-z 0-9 . _ ~ : / + = @ -`); every response answers it (a new one when it was "
                            "missing or not valid), and a report keeps its submit's id (`request_id`) in its "
                            "jobs' logs, its webhook's and its email's `X-Request-ID`."),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "reports", "description": "Submit, poll, download, cancel."},
                 {"name": "classes", "description": "A namespace's stored events: append, erase, summarise; "
                                                    "reports for a month or week come from POST /assignment."},
                 {"name": "subscriptions", "description": "A class's reports made and emailed every month or "
                                                          "week, each period once."},
                 {"name": "operations", "description": "Health checks; never need a token."}],
        "security": [{"bearerToken": []}, {"operatorSession": []}, {}],
        "paths": {**paths(config), **classes.paths(config), **subscriptions.paths(config)},
        "webhooks": webhooks(),
        "components": _with_class_schemas(components()),
    }


def _with_class_schemas(parts: dict) -> dict:
    return {**parts, "schemas": {**parts["schemas"], **classes.schemas(), **subscriptions.schemas()}}
