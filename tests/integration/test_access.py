"""Operator sign-in, rq-dashboard at /rq and API bearer tokens, on real PostgreSQL, Redis and workers.

CSRF stays enabled, so every form POST first fetches the page for its token, as a browser would.
"""
from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from reportgen.auth.credentials import TokenFileError
from reportgen.extensions import db
from reportgen.models import Report
from reportgen.serving.devstack import dashboard_access

from ..support.api import bearer, post_submission
from ..support.database import report_count
from ..support.pages import CSRF_TOKEN, PASSWORD, TOKENS, csrf_token, sign_in
from ..support.payloads import sample_students
from ..support.processes import ROOT, TEST_QUEUE, worker_env
from ..support.webserver import Browser, gunicorn

SAME_ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def operator_app(make_app):
    return make_app(REPORTGEN_ADMIN_PASSWORD=PASSWORD)


@pytest.fixture
def operator(operator_app):
    """A test client that is not signed in yet, on an app with an operator password."""
    return operator_app.test_client()


def chunk_count(app, task_id: str) -> int:
    with app.app_context():
        return db.session.get(Report, task_id).chunk_count


def queue_row(client) -> dict:
    response = client.get("/rq/0/data/queues.json")
    assert response.status_code == 200, response.get_data(as_text=True)
    return next(queue for queue in response.get_json()["queues"] if queue["name"] == TEST_QUEUE)


# --- the dashboard is off without a password --------------------------------------------------

def test_without_a_password_the_dashboard_and_sign_in_are_off_and_say_how_to_turn_them_on(make_app):
    client = make_app().test_client()
    for path in ("/rq/", "/rq/0/view/workers", "/signin"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404, path
        page = response.get_data(as_text=True)
        assert "The dashboard is off" in page and "set <code>REPORTGEN_ADMIN_PASSWORD</code>" in page, path
    data = client.get("/rq/0/data/queues.json")
    assert data.status_code == 404
    assert data.get_json() == {"error": "the dashboard is off; set REPORTGEN_ADMIN_PASSWORD to turn it on"}
    assert client.post("/rq/queue/reportgen-test/queued/empty", headers=SAME_ORIGIN).status_code == 404
    assert "Sign in" not in client.get("/").get_data(as_text=True)


# --- signing in -------------------------------------------------------------------------------

def test_signed_out_browsers_are_sent_to_sign_in_and_scripts_get_401(operator):
    response = operator.get("/rq/")
    assert response.status_code == 302 and response.headers["Location"] == "/signin?next=/rq/"
    response = operator.get("/rq/0/view/jobs/reportgen-test/failed/8/asc/1")
    assert response.headers["Location"] == "/signin?next=/rq/0/view/jobs/reportgen-test/failed/8/asc/1"
    for path in ("/rq/0/data/queues.json", "/rq/0/data/workers.json", "/rq/0/data/job/x.json"):
        response = operator.get(path)
        assert response.status_code == 401 and response.get_json()["error"].startswith("sign in"), path
    assert operator.post("/rq/queue/reportgen-test/queued/empty", headers=SAME_ORIGIN).status_code == 401
    assert operator.get("/rq/static/js/jquery-3.5.1.min.js").status_code == 302

    page = operator.get("/signin?next=/rq/").get_data(as_text=True)
    assert '<input autocomplete="current-password" autofocus' in page and 'type="password"' in page
    assert 'name="next" type="hidden" value="/rq/"' in page
    assert '<a href="/signin"' in operator.get("/").get_data(as_text=True)


def test_a_wrong_or_missing_password_is_refused_and_signs_nobody_in(operator):
    response = sign_in(operator, "correct horse battery stapl")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "That password is not right." in page and 'aria-invalid="true"' in page
    assert PASSWORD not in page
    assert sign_in(operator, "").status_code == 400
    assert operator.get("/rq/").status_code == 302
    assert operator.get("/rq/0/data/queues.json").status_code == 401


def test_the_sign_in_form_needs_its_csrf_token(operator):
    response = operator.post("/signin", data={"password": PASSWORD}, headers={"Accept": "text/html"})
    assert response.status_code == 400 and "The form expired" in response.get_data(as_text=True)
    assert operator.get("/rq/").status_code == 302


def test_the_session_cookie_is_httponly_samesite_and_secure_only_when_asked(operator, make_app, monkeypatch):
    response = sign_in(operator)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    assert "; Secure" not in cookie and "Expires=" in cookie

    monkeypatch.setenv("REPORTGEN_SECURE_COOKIES", "true")
    secure = make_app(REPORTGEN_ADMIN_PASSWORD=PASSWORD).test_client()
    cookie = sign_in(secure).headers["Set-Cookie"]
    assert "; Secure" in cookie and "; HttpOnly" in cookie


@pytest.mark.parametrize("target", [
    "//evil.example/rq/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "http:/evil.example",
    "rq/", "/\t/evil.example",
])
def test_next_only_leads_to_paths_on_this_site(operator, target):
    response = sign_in(operator, next_path=target)
    assert response.status_code == 303 and response.headers["Location"] == "/rq/"


def test_after_sign_in_next_leads_back_and_sign_out_needs_its_token(operator):
    response = sign_in(operator, next_path="/rq/0/view/workers?x=1")
    assert response.headers["Location"] == "/rq/0/view/workers?x=1"
    assert operator.get("/signin?next=/reports").headers["Location"] == "/reports"  # already signed in
    nav = operator.get("/").get_data(as_text=True)
    assert '<a href="/rq/">Queue dashboard</a>' in nav and 'action="/signout"' in nav

    refused = operator.post("/signout", headers={"Accept": "text/html"})
    assert refused.status_code == 400 and operator.get("/rq/").status_code == 200
    response = operator.post("/signout", data={"csrf_token": csrf_token(operator, "/")})
    assert response.status_code == 303 and response.headers["Location"] == "/signin"
    assert "You are signed out." in operator.get("/signin").get_data(as_text=True)
    assert operator.get("/rq/").status_code == 302


def test_changing_the_password_signs_operators_out(operator, make_app):
    sign_in(operator)
    assert operator.get("/rq/").status_code == 200
    cookie = operator.get_cookie("session").value
    other = make_app(REPORTGEN_ADMIN_PASSWORD="a new password").test_client()
    other.set_cookie("session", cookie)
    assert other.get("/rq/").status_code == 302
    same = make_app(REPORTGEN_ADMIN_PASSWORD=PASSWORD).test_client()
    same.set_cookie("session", cookie)
    assert same.get("/rq/").status_code == 200


def test_a_sign_in_expires_after_the_session_lifetime_even_while_in_use(make_app):
    from datetime import timedelta

    client = make_app(REPORTGEN_ADMIN_PASSWORD=PASSWORD, PERMANENT_SESSION_LIFETIME=timedelta(seconds=2)).test_client()
    sign_in(client)
    assert client.get("/rq/0/data/queues.json").status_code == 200
    with client.session_transaction() as session:
        session["operator_since"] -= 3
    assert client.get("/rq/0/data/queues.json").status_code == 401


# --- the dashboard on real jobs ---------------------------------------------------------------

def test_signed_in_the_dashboard_shows_real_jobs_and_a_live_worker(operator_app, operator, config, tmp_path):
    task_id = post_submission(operator, "pdf").get_json()["task_id"]
    chunks = chunk_count(operator_app, task_id)
    assert sign_in(operator, next_path="/rq/").headers["Location"] == "/rq/"

    page = operator.get("/rq/")
    assert page.status_code == 200 and "<title>RQ dashboard</title>" in page.get_data(as_text=True)
    row = queue_row(operator)
    assert row["count"] == chunks and row["failed_job_registry_count"] == 0
    jobs = operator.get(f"/rq/0/data/jobs/{TEST_QUEUE}/queued/8/asc/1.json").get_json()["jobs"]
    assert [job["id"] for job in jobs] == [f"{task_id}-c{n}" for n in range(chunks)]
    assert {job["description"] for job in jobs} == {"render students"}
    job = operator.get(f"/rq/0/data/job/{task_id}-c0.json").get_json()
    assert job["status"] == "queued" and job["origin"] == TEST_QUEUE and job["description"] == "render students"
    assert f"{task_id}-c0" in operator.get(f"/rq/0/view/job/{task_id}-c0").get_data(as_text=True)
    assert operator.get(f"/rq/0/view/jobs/{TEST_QUEUE}/queued/8/asc/1").status_code == 200
    missing = operator.get("/rq/0/data/job/no-such-job.json")
    assert missing.status_code == 404 and "no such job" in missing.get_json()["error"]
    assert operator.get("/rq/1/data/queues.json").status_code == 404  # one Redis only
    assert operator.get("/rq/3/view/workers").status_code == 404

    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                              env=worker_env(config, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = operator.get("/rq/0/data/workers.json").get_json()["workers"]
            finished = operator.get(f"/rq/0/data/job/{task_id}-c{chunks - 1}.json")
            if workers and finished.status_code == 200 and finished.get_json()["status"] == "finished":
                break
            time.sleep(0.5)
        else:
            pytest.fail("the worker never showed up on the dashboard or never finished the report")
        # finishing work first, then new chunks
        assert workers[0]["queues"] == [f"{TEST_QUEUE}-finish", TEST_QUEUE] and workers[0]["pid"] == worker.pid
        page = operator.get("/rq/0/view/workers")
        assert page.status_code == 200 and "Workers" in page.get_data(as_text=True)
        assert queue_row(operator)["finished_job_registry_count"] == chunks  # a one-chunk report needs no other job
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_dashboard_actions_need_a_post_from_this_site(operator_app, operator):
    post_submission(operator, "pdf")
    sign_in(operator)
    queued = queue_row(operator)["count"]
    empty = f"/rq/queue/{TEST_QUEUE}/queued/empty"
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/rq/"}, {"Origin": "https://localhost"},
                    {"Origin": "http://evil.example", "Referer": "http://localhost/rq/"}):
        response = operator.post(empty, headers=headers)
        assert response.status_code == 403, headers
        assert "Origin" in response.get_json()["error"]
    assert queue_row(operator)["count"] == queued > 0

    requeue_all = f"/rq/requeue/{TEST_QUEUE}"
    response = operator.get(requeue_all, headers={"Accept": "application/json"})
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert operator.post(requeue_all, headers={"Origin": "http://evil.example"}).status_code == 403
    assert operator.post(requeue_all, headers=SAME_ORIGIN).get_json() == {"status": "OK", "count": 0}

    response = operator.post(f"/rq/job/{queue_row(operator)['name']}-none/requeue", headers=SAME_ORIGIN)
    assert response.status_code == 404
    response = operator.post(empty, headers={"Referer": "http://localhost/rq/0/view/jobs"})
    assert response.status_code == 200 and response.get_json() == {"status": "OK"}
    assert queue_row(operator)["count"] == 0


# --- API tokens -------------------------------------------------------------------------------

def test_with_tokens_every_api_call_needs_a_valid_bearer_token(make_app):
    token_app = make_app(REPORTGEN_API_TOKENS=TOKENS)
    client = token_app.test_client()

    response = post_submission(client, "pdf")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="reportgen"'
    assert "Authorization: Bearer" in response.get_json()["error"]
    for headers in (bearer("not-a-token"), bearer(TOKENS[0] + "x"), {"Authorization": f"Basic {TOKENS[0]}"}):
        response = post_submission(client, "pdf", headers=headers)
        assert response.status_code == 401, headers
    assert post_submission(client, "pdf", headers=bearer("wrong")).headers["WWW-Authenticate"] == \
        'Bearer realm="reportgen", error="invalid_token"'
    assert report_count(token_app) == 0

    created = post_submission(client, "pdf", headers=bearer(TOKENS[1]))
    assert created.status_code == 202
    status_url = created.get_json()["status_url"]
    assert client.get(status_url, headers=bearer(TOKENS[1])).status_code == 202  # queued: no worker here
    assert client.get(status_url, headers=bearer(TOKENS[0])).status_code == 404  # another client's report
    assert client.get(status_url).status_code == 401
    assert client.get("/assignment/no/such/path").status_code == 401
    assert client.post("/assignment/sequence", json=sample_students(), headers=bearer(TOKENS[0])).status_code == 200

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)  # open: no worker runs here, so 503
    with client.get("/static/css/app.css") as stylesheet:
        assert stylesheet.status_code == 200


def test_token_file_holds_digests_with_comments(make_app, tmp_path):
    token = "token-from-the-file"
    path = tmp_path / "api-tokens"
    path.write_text(f"# reportgen API tokens\n\n{hashlib.sha256(token.encode()).hexdigest()}  # ci uploader\n"
                    f"{hashlib.sha256(b'another').hexdigest().upper()}\n")
    client = make_app(REPORTGEN_API_TOKENS_FILE=str(path)).test_client()
    assert post_submission(client, "pdf", headers=bearer(token)).status_code == 202
    assert post_submission(client, "pdf", headers=bearer("another")).status_code == 202
    assert post_submission(client, "pdf", headers=bearer(hashlib.sha256(token.encode()).hexdigest())).status_code == 401
    assert post_submission(client, "pdf").status_code == 401

    path.write_text(f"{hashlib.sha256(token.encode()).hexdigest()}\n{token}\n")
    with pytest.raises(TokenFileError, match=r"api-tokens, line 2: expected a SHA-256 hex digest"):
        make_app(REPORTGEN_API_TOKENS_FILE=str(path))


def test_with_tokens_the_pages_need_the_operator_sign_in(make_app):
    token_app = make_app(REPORTGEN_API_TOKENS=TOKENS, REPORTGEN_ADMIN_PASSWORD=PASSWORD)
    client = token_app.test_client()
    task_id = post_submission(client, "pdf", headers=bearer(TOKENS[0])).get_json()["task_id"]

    for path in ("/", "/reports", f"/reports/{task_id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == f"/signin?next={path}", path
    status_json = client.get(f"/reports/{task_id}/status.json")
    assert status_json.status_code == 401 and status_json.get_json()["error"].startswith("sign in")
    assert client.get(f"/assignment/pdf/{task_id}").status_code == 401
    response = client.post("/", data={"text": json.dumps(sample_students()), "formats": "pdf"})
    assert response.status_code == 303 and response.headers["Location"] == "/signin"
    assert report_count(token_app) == 1
    assert client.get("/favicon.ico").status_code == 301
    assert client.get("/signin").status_code == 200

    sign_in(client)
    for path in ("/", "/reports", f"/reports/{task_id}", f"/reports/{task_id}/status.json"):
        assert client.get(path).status_code == 200, path
    assert client.get(f"/assignment/pdf/{task_id}").status_code == 202  # where the pages link downloads
    assert post_submission(client, "pdf").status_code == 401  # writing through the API still takes a token


def test_without_tokens_the_pages_and_the_api_stay_open(make_app):
    client = make_app(REPORTGEN_ADMIN_PASSWORD=PASSWORD).test_client()
    task_id = post_submission(client, "pdf").get_json()["task_id"]
    for path in ("/", "/reports", f"/reports/{task_id}"):
        assert client.get(path).status_code == 200, path
    assert client.get(f"/assignment/pdf/{task_id}").status_code == 202


def test_new_token_command_prints_a_token_and_the_digest_the_server_accepts(make_app, runner, tmp_path):
    outputs = [runner.invoke(args=["reportgen", "new-token"]) for _ in range(2)]
    assert [result.exit_code for result in outputs] == [0, 0]
    pairs = [re.findall(r"^  (\S+)$", result.output, re.M) for result in outputs]
    (token, digest), (other_token, _) = pairs
    assert token != other_token and len(token) >= 40
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    path = tmp_path / "api-tokens"
    path.write_text(digest + "\n")
    client = make_app(REPORTGEN_API_TOKENS_FILE=str(path)).test_client()
    assert post_submission(client, "pdf", headers=bearer(token)).status_code == 202
    assert post_submission(client, "pdf", headers=bearer(other_token)).status_code == 401


# --- the settings from the environment, over real HTTP ----------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_gunicorn_reads_the_password_and_token_file_from_the_environment(app, config, tmp_path):
    token = "token-for-gunicorn"
    token_file = tmp_path / "api-tokens"
    token_file.write_text(hashlib.sha256(token.encode()).hexdigest() + "\n")
    port = free_port()
    env = worker_env(config, tmp_path, REPORTGEN_ADMIN_PASSWORD=PASSWORD, REPORTGEN_API_TOKENS_FILE=str(token_file))
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies), NoRedirects)

    def request(path, data=None, headers=None):
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        try:
            with browser.open(urllib.request.Request(base + path, data=body, headers=headers or {}), timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request("/healthz")[0] == 200:
                    break
            except urllib.error.URLError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}" if server.poll()
                                is not None else "gunicorn did not start")
                time.sleep(0.2)

        status, headers, _ = request("/rq/")
        assert status == 302 and headers["Location"] == "/signin?next=/rq/"
        status, _, page = request("/signin?next=/rq/")
        csrf = CSRF_TOKEN.search(page).group(1)
        status, _, _ = request("/signin", {"csrf_token": csrf, "password": "wrong", "next": "/rq/"})
        assert status == 401
        status, headers, _ = request("/signin", {"csrf_token": csrf, "password": PASSWORD, "next": "/rq/"})
        assert status == 303 and headers["Location"] == "/rq/"
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Lax" in headers["Set-Cookie"]
        status, _, page = request("/rq/")
        assert status == 200 and "<title>RQ dashboard</title>" in page

        payload = json.dumps(sample_students()).encode()
        status, headers, _ = request("/assignment/pdf", payload, {"Content-Type": "application/json"})
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="reportgen"'
        status, _, body = request("/assignment/pdf", payload, {"Content-Type": "application/json", **bearer(token)})
        assert status == 202, body
        queues = json.loads(request("/rq/0/data/queues.json")[2])["queues"]
        assert any(queue["name"] == TEST_QUEUE and queue["count"] >= 1 for queue in queues)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()


# --- make run ---------------------------------------------------------------------------------

def test_make_run_makes_up_a_password_only_when_none_is_set():
    env, line = dashboard_access({"PATH": "/usr/bin"}, "http://127.0.0.1:8000")
    password = env["REPORTGEN_ADMIN_PASSWORD"]
    assert len(password) >= 20 and env["PATH"] == "/usr/bin"
    assert line == (f"reportgen: dashboard http://127.0.0.1:8000/rq  (sign in with password: {password}; "
                    "set REPORTGEN_ADMIN_PASSWORD to choose your own)")
    assert dashboard_access({}, "http://h:1")[0]["REPORTGEN_ADMIN_PASSWORD"] != password

    env, line = dashboard_access({"REPORTGEN_ADMIN_PASSWORD": "my own secret"}, "http://0.0.0.0:9000")
    assert env == {"REPORTGEN_ADMIN_PASSWORD": "my own secret"}
    assert line == "reportgen: dashboard http://0.0.0.0:9000/rq  (sign in with REPORTGEN_ADMIN_PASSWORD)"
    assert "my own secret" not in line
    assert os.environ.get("REPORTGEN_ADMIN_PASSWORD") != password


# --- access edges, over real HTTP to gunicorn as `make run` starts it ------------------------

def junk_bearer() -> dict:
    return bearer(secrets.token_urlsafe(24))


def test_sign_in_attempts_are_limited_per_address_whatever_bearer_comes_with_them(app, config, tmp_path):
    settings = dict(REPORTGEN_ADMIN_PASSWORD=PASSWORD, REPORTGEN_API_TOKENS=",".join(TOKENS),
                    REPORTGEN_SIGNIN_RATE_LIMIT="3 per minute")
    with gunicorn(config, tmp_path, **settings) as (host, port):
        browser = Browser(f"http://{host}:{port}")
        token = browser.csrf_token("/signin")
        guesses = [browser.status("/signin", {"csrf_token": token, "password": f"guess {n}"}, junk_bearer())
                   for n in range(5)]
        assert guesses == [401, 401, 401, 429, 429]
        status, headers, page = browser.request("/signin", {"csrf_token": token, "password": PASSWORD},
                                                junk_bearer())
        assert status == 429 and "Slow down a little" in page and int(headers["Retry-After"]) > 0
        assert browser.session_cookie() is None or browser.status("/rq/") == 302
        valid_token = browser.request("/signin", {"csrf_token": token, "password": PASSWORD}, bearer(TOKENS[0]))
        assert valid_token[0] == 429, "a valid API token does not lift the address's sign-in limit either"


def test_only_a_verified_token_gets_a_budget_of_its_own(app, config, tmp_path):
    settings = dict(REPORTGEN_API_TOKENS=",".join(TOKENS), REPORTGEN_ADMIN_PASSWORD=PASSWORD,
                    REPORTGEN_RATE_LIMIT="4 per minute")
    with gunicorn(config, tmp_path, **settings) as (host, port):
        browser = Browser(f"http://{host}:{port}")
        junk = [browser.status("/assignment/pdf/unknown", headers=junk_bearer()) for _ in range(5)]
        assert junk == [401, 401, 401, 401, 429], "guessed tokens are counted against the address"
        assert browser.status("/assignment/pdf/unknown") == 429
        valid = [browser.status("/assignment/pdf/unknown", headers=bearer(TOKENS[0])) for _ in range(5)]
        assert valid == [404, 404, 404, 404, 429]
        assert browser.status("/assignment/pdf/unknown", headers=bearer(TOKENS[1])) == 404


def test_every_submit_endpoint_and_the_upload_form_draw_on_one_budget(app, config, tmp_path):
    with gunicorn(config, tmp_path, REPORTGEN_SUBMIT_RATE_LIMIT="4 per minute") as (host, port):
        browser = Browser(f"http://{host}:{port}")
        body, json_type = json.dumps(sample_students()).encode(), {"Content-Type": "application/json"}
        form = {"csrf_token": browser.csrf_token("/"), "text": json.dumps(sample_students()), "formats": "html"}
        accepted = [browser.status(f"/assignment/{name}", body, json_type) for name in ("html", "pdf", "csv")]
        accepted.append(browser.status("/assignment/sequence", body, json_type))
        assert accepted == [202, 202, 202, 200]
        status, _, page = browser.request("/", form, {"Accept": "text/html"})
        assert status == 429 and "Slow down a little" in page
        assert [browser.status(f"/assignment/{name}", body, json_type) for name in ("html", "pdf", "csv")] == [429] * 3
        assert report_count(app) == 3


def test_a_cookie_replayed_after_sign_out_opens_nothing(app, config, tmp_path):
    settings = dict(REPORTGEN_ADMIN_PASSWORD=PASSWORD, REPORTGEN_API_TOKENS=",".join(TOKENS))
    with gunicorn(config, tmp_path, **settings) as (host, port):
        base = f"http://{host}:{port}"
        operator, colleague = Browser(base), Browser(base)
        for browser in (operator, colleague):
            status, headers, _ = browser.request("/signin", {"csrf_token": browser.csrf_token("/signin"),
                                                             "password": PASSWORD})
            assert status == 303, headers
        captured = operator.session_cookie()
        thief = Browser(base, replayed_cookie=captured)
        assert thief.status("/rq/") == 200 and thief.status("/reports") == 200  # the cookie works until sign-out

        status, headers, _ = operator.request("/signout", {"csrf_token": operator.csrf_token("/")})
        assert status == 303 and headers["Location"] == "/signin"
        for path in ("/rq/", "/reports", "/"):
            status, headers, _ = thief.request(path, headers={"Accept": "text/html"})
            assert status == 302 and headers["Location"].startswith("/signin"), path
        assert thief.status("/rq/0/data/queues.json") == 401
        assert thief.status("/assignment/pdf/unknown") == 401
        assert colleague.status("/rq/") == 200, "signing out ends that sign-in only"
