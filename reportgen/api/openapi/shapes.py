"""The small builders of the description: references, nullable types, JSON bodies, errors."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...render import formats

JSON = "application/json"


ZIP = "application/zip"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def response(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def json_content(schema: dict, **media) -> dict:
    return {JSON: {"schema": schema, **media}}


def header(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


def error(description: str, *, headers: Mapping[str, dict] | None = None, example: dict | None = None) -> dict:
    response = {"description": description, "content": json_content(ref("Error"))}
    if example is not None:
        response["content"][JSON]["example"] = example
    if headers:
        response["headers"] = dict(headers)
    return response


def param(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def document_content() -> dict:
    """A finished document's media types, one per format, as the registry serves them."""
    content: dict[str, Any] = {}
    for fmt in formats.FORMATS.values():
        schema = {"type": "string", "description": f"the {fmt.label} document ({fmt.disposition})"}
        if not fmt.mimetype.startswith("text/"):
            schema["contentMediaType"] = fmt.mimetype
        content[fmt.mimetype] = {"schema": schema}
    return content
