"""Private by default: a report belongs to the client that submitted it, and an exposed server
without credentials shows no reports at all. On real PostgreSQL, Redis, an RQ worker, gunicorn
and ``flask run``."""
from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest

from reportgen.auth.clients import ANONYMOUS, OPERATOR, token_client
from reportgen.auth.credentials import sha256
from reportgen.extensions import db
from reportgen.models import Report

from ..support.api import bearer
from ..support.pages import PASSWORD, TOKENS, csrf_token, sign_in
from ..support.payloads import sample_students
from ..support.processes import ROOT, free_port, stop_worker, wait_until, worker_env
from ..support.webserver import Browser, gunicorn

JSON = {"Accept": "application/json"}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def owner_of(app, task_id: str) -> str | None:
    with app.app_context():
        return db.session.get(Report, task_id).owner


def api_submit(client, report_format: str = "html", headers: dict | None = None, payload=None) -> str:
    response = client.post(f"/assignment/{report_format}", data=json.dumps(payload or sample_students()),
                           content_type="application/json", headers=headers or {})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["task_id"]


def report_urls(task_id: str) -> list[tuple[str, dict]]:
    """What a client can ask of a finished HTML report: metadata, document, one student, the ZIP."""
    return [(f"/assignment/html/{task_id}", JSON), (f"/assignment/html/{task_id}", {}),
            (f"/assignment/html/{task_id}/students/0", {}), (f"/assignment/html/{task_id}?bundle=zip", {})]


def test_one_token_cannot_read_another_tokens_report_and_the_operator_sees_all(make_app, run_worker):
    app = make_app(REPORTGEN_API_TOKENS=TOKENS, REPORTGEN_ADMIN_PASSWORD=PASSWORD)
    client = app.test_client()
    mine, theirs = bearer(TOKENS[0]), bearer(TOKENS[1])
    task_id = api_submit(client, headers=mine, payload=[{**sample_students()[0], "student_id": "only-mine"}])
    assert owner_of(app, task_id) == token_client(sha256(TOKENS[0])) and not TOKENS[0] in owner_of(app, task_id)
    pending = client.get(f"/assignment/html/{task_id}", headers=theirs)
    assert pending.status_code == 404
    run_worker()

    for url, headers in report_urls(task_id):
        assert client.get(url, headers={**mine, **headers}).status_code == 200, url
        other = client.get(url, headers={**theirs, **headers})
        missing = client.get(url.replace(task_id, MISSING_ID), headers={**theirs, **headers})
        assert other.status_code == missing.status_code == 404, url
        # Not an oracle: the answer is the one for a report that does not exist.
        assert other.get_json() == json.loads(missing.get_data(as_text=True).replace(MISSING_ID, task_id)), url
        assert "only-mine" not in other.get_data(as_text=True)
    for path in (f"/reports/{task_id}/status.json", f"/reports/{task_id}", "/reports"):
        page = client.get(path, headers={**theirs, **JSON})
        assert page.status_code == 401 and task_id not in page.get_data(as_text=True), path

    assert sign_in(client).status_code == 303
    for url, headers in report_urls(task_id):
        assert client.get(url, headers=headers).status_code == 200, url
    status_json = client.get(f"/reports/{task_id}/status.json")
    assert status_json.status_code == 200 and status_json.get_json()["reports"][0]["status"] == "SUCCESS"
    assert f"/reports/{task_id}" in client.get("/reports").get_data(as_text=True)


def test_the_operators_own_submits_and_retries_are_recorded(make_app):
    app = make_app(REPORTGEN_API_TOKENS=TOKENS, REPORTGEN_ADMIN_PASSWORD=PASSWORD)
    client = app.test_client()
    token_report = api_submit(client, headers=bearer(TOKENS[1]))
    assert sign_in(client).status_code == 303
    token = csrf_token(client, "/")
    response = client.post("/", data={"csrf_token": token, "formats": "html", "text": json.dumps(sample_students())})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    form_report = response.headers["Location"].rsplit("/", 1)[1]
    assert owner_of(app, form_report) == OPERATOR
    # A token's report tried again by the operator stays the token's.
    with app.app_context():
        db.session.get(Report, token_report).status = "FAILURE"
        db.session.commit()
    retried = client.post(f"/reports/{token_report}/retry", data={"csrf_token": token})
    new_id = retried.headers["Location"].rsplit("/", 1)[1]
    assert new_id != token_report and owner_of(app, new_id) == token_client(sha256(TOKENS[1]))
    assert client.get(f"/assignment/html/{new_id}", headers={"Authorization": ""}).status_code == 202
    assert app.test_client().get(f"/assignment/html/{new_id}", headers=bearer(TOKENS[1])).status_code == 202
    assert app.test_client().get(f"/assignment/html/{new_id}", headers=bearer(TOKENS[0])).status_code == 404


def test_an_anonymous_local_server_works_as_before(make_app):
    app = make_app()
    client = app.test_client()
    task_id = api_submit(client, payload=[{**sample_students()[0], "student_id": "anyone-sees-me"}])
    assert owner_of(app, task_id) == ANONYMOUS
    assert client.get(f"/assignment/html/{task_id}").status_code == 202
    assert app.test_client().get(f"/reports/{task_id}/status.json").status_code == 200
    assert f"/reports/{task_id}" in app.test_client().get("/reports").get_data(as_text=True)


def from_elsewhere(app):
    """A test client whose requests come from another machine's address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.40"
    return client


def test_requests_through_a_proxy_or_from_elsewhere_count_as_exposed(make_app):
    open_app = make_app()
    client = open_app.test_client()
    for kwargs in ({"headers": {"X-Forwarded-For": "127.0.0.1"}}, {"environ_base": {"REMOTE_ADDR": "192.0.2.40"}}):
        refused = client.get("/assignment/html/" + MISSING_ID, **kwargs)
        assert refused.status_code == 403 and "REPORTGEN_ADMIN_PASSWORD" in refused.get_json()["error"], kwargs
    proxied = make_app(REPORTGEN_TRUSTED_PROXIES=1).test_client()
    assert proxied.get("/", headers={"Accept": "text/html"}).status_code == 403
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
    password_only = from_elsewhere(make_app(REPORTGEN_ADMIN_PASSWORD=PASSWORD))
    assert password_only.get("/reports").headers["Location"] == "/signin?next=/reports"
    refused = password_only.get("/assignment/html/" + MISSING_ID)
    assert refused.status_code == 403 and list(refused.get_json()["details"]) == ["REPORTGEN_API_TOKENS"]
    assert sign_in(password_only).status_code == 303
    assert password_only.get("/reports").status_code == 200
    assert password_only.get("/assignment/html/" + MISSING_ID).status_code == 404
    tokens_only = from_elsewhere(make_app(REPORTGEN_API_TOKENS=TOKENS))
    assert tokens_only.get("/assignment/html/" + MISSING_ID, headers=bearer(TOKENS[0])).status_code == 404


def machine_address() -> str:
    """This machine's own non-loopback IPv4 address (e.g. eth0's), to reach a server as another machine would."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family.name == "AF_INET" and not address.address.startswith("127."):
                return address.address
    pytest.skip("this machine has no non-loopback IPv4 address")


def exposed_answers(base: str) -> dict:
    browser = Browser(base)
    api = browser.request("/assignment/html", data=json.dumps(sample_students()).encode(),
                          headers={"Content-Type": "application/json"})
    page = browser.request("/", headers={"Accept": "text/html"})
    return {"api": api, "page": page, "healthz": browser.status("/healthz"),
            "static": browser.status("/static/css/app.css"), "reports": browser.status(f"/reports/{MISSING_ID}")}


def assert_refused(answers: dict) -> None:
    status, headers, text = answers["api"]
    assert status == 403 and headers["Content-Type"] == "application/json", text
    body = json.loads(text)
    assert "REPORTGEN_API_TOKENS" in body["error"] and "REPORTGEN_ADMIN_PASSWORD" in body["error"]
    assert set(body["details"]) == {"REPORTGEN_API_TOKENS", "REPORTGEN_ADMIN_PASSWORD"}
    status, _, page = answers["page"]
    assert status == 403 and "This server shows no reports yet" in page
    assert "<code>REPORTGEN_ADMIN_PASSWORD</code>" in page and "<code>REPORTGEN_API_TOKENS</code>" in page
    assert answers["reports"] == 403
    assert answers["healthz"] == 200 and answers["static"] == 200


def test_gunicorn_on_every_address_refuses_other_machines_but_not_this_one(app, config, tmp_path):
    address = machine_address()
    with gunicorn(config, tmp_path, bind="0.0.0.0", REPORTGEN_ADMIN_PASSWORD="", REPORTGEN_API_TOKENS="") as (_, port):
        assert_refused(exposed_answers(f"http://{address}:{port}"))
        local = exposed_answers(f"http://127.0.0.1:{port}")
        assert local["api"][0] == 202 and local["page"][0] == 200 and local["reports"] == 404
    with gunicorn(config, tmp_path, bind=address, REPORTGEN_ADMIN_PASSWORD="", REPORTGEN_API_TOKENS="") as (_, port):
        assert_refused(exposed_answers(f"http://{address}:{port}"))
    with gunicorn(config, tmp_path, bind=address, REPORTGEN_ADMIN_PASSWORD=PASSWORD,
                  REPORTGEN_API_TOKENS=TOKENS[0]) as (_, port):
        served = exposed_answers(f"http://{address}:{port}")
        assert served["api"][0] == 401 and served["page"][0] == 302 and served["healthz"] == 200
        browser = Browser(f"http://{address}:{port}")
        submitted = browser.request("/assignment/html", data=json.dumps(sample_students()).encode(),
                                    headers={"Content-Type": "application/json", **bearer(TOKENS[0])})
        assert submitted[0] == 202, submitted


def test_flask_run_on_every_address_refuses_other_machines(app, config, tmp_path):
    address, port = machine_address(), free_port()
    env = worker_env(config, tmp_path, REPORTGEN_ADMIN_PASSWORD="", REPORTGEN_API_TOKENS="")
    log = open(tmp_path / "flask-run.log", "wb")
    with log:
        server = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "0.0.0.0",
                                   "--port", str(port), "--no-reload", "--no-debugger"], cwd=ROOT, env=env,
                                  stdout=log, stderr=log, start_new_session=True)
    try:
        wait_until(lambda: Browser(f"http://127.0.0.1:{port}").status("/healthz") == 200 or server.poll() is not None,
                   60, "flask run to answer")
        assert server.poll() is None, (tmp_path / "flask-run.log").read_text()[-3000:]
        assert_refused(exposed_answers(f"http://{address}:{port}"))
        assert exposed_answers(f"http://127.0.0.1:{port}")["page"][0] == 200
    finally:
        stop_worker(server)
