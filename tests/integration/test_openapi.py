"""``/openapi.json`` and ``/docs``: a valid OpenAPI 3.1 description of every API route, served
to anyone, and the check that holds every test's API responses to it (``tests/conftest.py``)."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from reportgen.api.openapi import document
from reportgen.domain.options import KNOWN_OPTIONS, MAX_IDLE_CUTOFF_MINUTES, MIN_IDLE_CUTOFF_MINUTES
from reportgen.render import formats
from reportgen.security import APP_CSP

from ..support.api import post_json
from ..support.fakes import WEBHOOK_SECRET, WebhookReceiver
from ..support.openapi import OpenAPIResponses
from ..support.payloads import sample_students

DOCUMENTED_PREFIXES = ("/assignment", "/namespaces", "/subscriptions", "/healthz", "/readyz")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
TOKEN = "t0ken-for-the-openapi-tests"


def openapi_path(rule: str) -> str:
    """A url map rule as an OpenAPI path: ``<int:position>`` → ``{position}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def routes(app) -> set[tuple[str, str]]:
    return {(openapi_path(rule.rule), method.lower())
            for rule in app.url_map.iter_rules() if rule.rule.startswith(DOCUMENTED_PREFIXES)
            for method in rule.methods - IGNORED_METHODS}


def documented(description: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in description["paths"].items()
            for method in item if method != "parameters"}


def test_the_served_description_is_valid_openapi_3_1_with_this_servers_limits(app, client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.is_json
    served = response.get_json()
    validate(served)
    assert served["openapi"] == "3.1.0"
    assert served == document(app.config)
    body = served["paths"]["/assignment/sequence"]["post"]["requestBody"]
    assert f"{app.config['MAX_CONTENT_LENGTH']:,} bytes" in body["description"]


def test_every_registered_api_route_is_documented(app):
    missing = routes(app) - documented(document(app.config))
    assert not missing, f"routes without a description in reportgen/api/openapi/paths.py: {sorted(missing)}"


def test_every_documented_route_exists(app):
    extra = documented(document(app.config)) - routes(app)
    assert not extra, f"described but not served: {sorted(extra)}"


def test_the_description_is_read_from_the_code(app):
    description = document(app.config)
    schemas = description["components"]["schemas"]
    assert description["components"]["parameters"]["report_format"]["schema"]["enum"] == list(formats.NAMES)
    assert list(schemas["Options"]["properties"]) == list(KNOWN_OPTIONS)
    cutoff = schemas["Options"]["properties"]["idle_cutoff_minutes"]
    assert (cutoff["minimum"], cutoff["maximum"]) == (MIN_IDLE_CUTOFF_MINUTES, MAX_IDLE_CUTOFF_MINUTES)
    downloads = description["paths"]["/assignment/{report_format}/{task_id}"]["get"]["responses"]["200"]["content"]
    assert {fmt.mimetype for fmt in formats.FORMATS.values()} < set(downloads)
    bearer = description["components"]["securitySchemes"]["bearerToken"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    webhook = description["webhooks"]["reportFinished"]["post"]
    assert {p["name"] for p in webhook["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "CANCELED" in schemas["ReportStatus"]["properties"]["status"]["enum"]
    assert "callback_url" in schemas["Envelope"]["properties"]


@pytest.fixture
def guarded_client(config):
    from reportgen import create_app

    return create_app({**config, "REPORTGEN_API_TOKENS": [TOKEN]}).test_client()


def test_description_and_docs_page_are_public_when_api_tokens_are_set(guarded_client):
    assert post_json(guarded_client, "/assignment/html", sample_students()).status_code == 401
    assert guarded_client.get("/openapi.json").status_code == 200
    page = guarded_client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'data-openapi-url="/openapi.json"' in html
    for asset in re.findall(r'(?:src|href)="(/docs/assets/[^"]+|/static/[^"]+)"', html):
        with guarded_client.get(asset) as response:
            assert response.status_code == 200, asset


def test_description_and_docs_page_are_served_to_other_machines_without_credentials(client):
    """A server reached from another address with no tokens and no password refuses reports, not these."""
    other_machine = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/openapi.json", environ_base=other_machine).status_code == 200
    assert client.get("/docs", environ_base=other_machine).status_code == 200


def test_docs_page_runs_under_the_apps_csp_and_serves_only_its_assets(client):
    page = client.get("/docs")
    assert page.headers["Content-Security-Policy"] == APP_CSP
    assert "<script>" not in page.get_data(as_text=True)  # no inline script: script-src 'self' holds
    with client.get("/docs/assets/swagger-ui-bundle.js") as script:
        assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/..%2f__init__.py").status_code == 404


def test_the_check_refuses_undocumented_statuses_missing_headers_and_wrong_bodies(app):
    check = OpenAPIResponses(document(app.config))
    ok = {"error": "this API needs a token"}
    challenge = {"WWW-Authenticate": 'Bearer realm="reportgen"'}
    assert check.problems("POST", "/assignment/pdf", 401, challenge, "application/json", ok) == []
    assert check.problems("POST", "/assignment/pdf", 401, {}, "application/json", ok) == [
        "POST /assignment/pdf → 401: the required header WWW-Authenticate is missing"]
    assert check.problems("POST", "/assignment/pdf", 418, {}, "application/json", ok) == [
        "POST /assignment/pdf → 418: status 418 is not documented for POST /assignment/{report_format}"]
    assert check.problems("POST", "/assignment/pdf", 401, challenge, "application/json", {"message": "no"}) == [
        "POST /assignment/pdf → 401: body: 'error' is a required property"]
    assert check.problems("GET", "/healthz", 200, {}, "text/html", None) == [
        "GET /healthz → 200: text/html is not a documented media type (application/json)"]
    assert check.problems("PUT", "/assignment/pdf/abc", 405, {"Allow": "GET, DELETE"}, "application/json", ok) == []
    assert check.problems("PUT", "/assignment/pdf/abc", 200, {}, "application/json", ok) == [
        "PUT /assignment/pdf/abc → 200: PUT is not documented for /assignment/{report_format}/{task_id}, "
        "so 405 was expected"]
    assert check.problems("GET", "/reports/abc", 200, {}, "text/html", None) == []  # not an API path


def test_a_finished_reports_responses_match_the_description(app, client, run_worker):
    """A report through a real worker: the 200 download, the metadata, the ZIP, one student's
    document, and a ranged and a conditional request, each held to the description by the hook."""
    response = post_json(client, "/assignment/csv", {"students": sample_students(),
                                                     "options": {"idle_cutoff_minutes": 20}})
    assert response.status_code == 202
    url = response.headers["Location"]
    run_worker()
    metadata = client.get(url, headers={"Accept": "application/json"})
    assert metadata.status_code == 200 and metadata.get_json()["status"] == "SUCCESS"
    download = client.get(url)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert client.get(url, headers={"If-None-Match": download.headers["ETag"]}).status_code == 304
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    assert client.get(url, headers={"Range": "bytes=999999-"}).status_code == 416
    with client.get(url + "?bundle=zip&bom=1") as bundle:
        assert bundle.status_code == 200 and bundle.mimetype == "application/zip"
    assert client.get(url + "/students/1").status_code == 200
    assert client.get(url + "/students/9").status_code == 404
    assert client.get(url + "?bom=2").status_code == 400
    sequence = post_json(client, "/assignment/sequence?metrics=1", sample_students())
    assert sequence.status_code == 200 and "cohort" in sequence.get_json()


def test_webhooks_the_worker_sends_match_the_description(app, config, run_worker):
    """A finished report's push and a canceled one's, as a real receiver gets them."""
    from reportgen import create_app

    hook_app = create_app({**config, "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET,
                           "REPORTGEN_WEBHOOK_ALLOW": ["127.0.0.1"]})
    client = hook_app.test_client()
    check = OpenAPIResponses(document(hook_app.config))
    with WebhookReceiver() as receiver:
        task_ids = []
        for report_format in ("csv", "html"):
            response = post_json(client, f"/assignment/{report_format}",
                                 {"students": sample_students(), "callback_url": receiver.url()})
            assert response.status_code == 202
            task_ids.append(response.get_json()["task_id"])
        assert client.delete(f"/assignment/html/{task_ids[1]}").get_json()["status"] == "CANCELED"
        run_worker(REPORTGEN_WEBHOOK_SECRET=WEBHOOK_SECRET, REPORTGEN_WEBHOOK_ALLOW="127.0.0.1")
    pushed = {request["verified"]["status"]: request for request in receiver.requests}
    assert set(pushed) == {"SUCCESS", "CANCELED"}
    for request in pushed.values():
        assert check.webhook_problems("reportFinished", request["headers"], request["verified"]) == []
    assert check.webhook_problems("reportFinished", {}, {"task_id": 7}) == [
        "webhook reportFinished: the required header webhook-id is missing",
        "webhook reportFinished: the required header webhook-timestamp is missing",
        "webhook reportFinished: the required header webhook-signature is missing",
        "webhook reportFinished: body: {'task_id': 7} is not valid under any of the given schemas"]
