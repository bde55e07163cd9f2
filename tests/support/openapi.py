"""Every response of the test clients held to ``/openapi.json``."""
from __future__ import annotations

import re


class OpenAPIResponses:
    """Holds a response to the OpenAPI description (``reportgen.api.openapi``): its status code is
    documented for the operation (or, for a method a path does not list, is a documented 405,
    401, 403 or 429), its required headers are there, its media type is documented and a JSON
    body is valid against the documented schema (JSON Schema 2020-12, formats checked)."""

    BASE = "urn:reportgen:openapi"
    UNLISTED_METHOD = {405: "MethodNotAllowed", 401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"}

    def __init__(self, document: dict):
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = document
        self.registry = Registry().with_resource(self.BASE, Resource(contents=document, specification=DRAFT202012))
        self.validator_class = Draft202012Validator
        self.paths = sorted(
            ((re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"[^/]+", re.escape(path)) + "$"), path)
             for path in document["paths"]), key=lambda pair: pair[1].count("{"))

    def resolve(self, item: dict, pointer: str) -> tuple[dict, str]:
        """Follow a ``$ref`` within the document: the object and its JSON pointer."""
        while "$ref" in item:
            pointer = item["$ref"][1:]
            item = self.document
            for segment in pointer.strip("/").split("/"):
                item = item[segment.replace("~1", "/").replace("~0", "~")]
        return item, pointer

    def template(self, path: str) -> str | None:
        return next((template for pattern, template in self.paths if pattern.match(path)), None)

    def problems(self, method: str, path: str, status: int, headers, mimetype: str, body) -> list[str]:
        """What is wrong with this response (``body``: the decoded JSON, or None); empty if nothing."""
        template = self.template(path)
        method = method.lower()
        if template is None or method == "options":
            return []
        where = f"{method.upper()} {path} → {status}"
        escaped = template.replace("~", "~0").replace("/", "~1")
        operation = self.document["paths"][template].get("get" if method == "head" else method)
        if operation is None:
            if status not in self.UNLISTED_METHOD:
                return [f"{where}: {method.upper()} is not documented for {template}, so 405 was expected"]
            response, pointer = self.resolve(
                {"$ref": f"#/components/responses/{self.UNLISTED_METHOD[status]}"}, "")
        elif str(status) not in operation["responses"]:
            return [f"{where}: status {status} is not documented for {method.upper()} {template}"]
        else:
            response, pointer = self.resolve(operation["responses"][str(status)],
                                              f"/paths/{escaped}/{method}/responses/{status}")
        found = []
        for name, header in response.get("headers", {}).items():
            header, _ = self.resolve(header, "")
            if header.get("required") and name not in headers:
                found.append(f"{where}: the required header {name} is missing")
        if method == "head" or status == 304 or not mimetype:
            return found
        content = response.get("content", {})
        if mimetype not in content:
            return [*found, f"{where}: {mimetype} is not a documented media type ({', '.join(content) or 'none'})"]
        if body is not None and "schema" in content[mimetype]:
            found += self.schema_problems(f"{pointer}/content/{mimetype.replace('/', '~1')}/schema", body, where)
        return found

    def schema_problems(self, pointer: str, value, where: str) -> list[str]:
        """Where ``value`` is not valid against the schema at ``pointer`` in the document."""
        from urllib.parse import quote

        validator = self.validator_class({"$ref": f"{self.BASE}#{quote(pointer, safe='/~')}"}, registry=self.registry,
                                         format_checker=self.validator_class.FORMAT_CHECKER)
        return [f"{where}: {'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
                for error in validator.iter_errors(value)]

    def webhook_problems(self, name: str, headers, body) -> list[str]:
        """What is wrong with a webhook request the server sent (headers and decoded JSON body)."""
        operation = self.document["webhooks"][name]["post"]
        lowered = {key.lower() for key in headers}
        found = [f"webhook {name}: the required header {parameter['name']} is missing"
                 for parameter in operation["parameters"]
                 if parameter.get("required") and parameter["name"].lower() not in lowered]
        return found + self.schema_problems(f"/webhooks/{name}/post/requestBody/content/application~1json/schema",
                                            body, f"webhook {name}")


def openapi_problems(app, response) -> list[str]:
    """What is wrong with a test client's response by the app's OpenAPI description."""
    from reportgen.api.openapi import document

    checker = app.extensions.get("tests.openapi")
    if checker is None:
        checker = app.extensions["tests.openapi"] = OpenAPIResponses(document(app.config))
    request = response.request
    body = response.get_json(silent=True) if response.is_json else None
    return checker.problems(request.method, request.path, response.status_code, response.headers,
                            response.mimetype, body)

