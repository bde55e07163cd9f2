"""Security headers on every response, the sandbox around stored HTML reports, and rate limits
counted in the real Redis."""
import re

import pytest

from reportgen import create_app

from ..support.api import post_json
from ..support.database import report_count
from ..support.payloads import sample_students

CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
APP_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@pytest.mark.parametrize("path, accept", [
    ("/", "text/html"),
    ("/reports", "text/html"),
    ("/healthz", "application/json"),
    ("/static/css/app.css", "text/css"),
    ("/assignment/pdf/unknown", "application/json"),
    ("/no-such-page", "text/html"),
])
def test_every_response_carries_the_security_headers(client, path, accept):
    response = client.get(path, headers={"Accept": accept})
    response.close()
    for name, value in APP_HEADERS.items():
        assert response.headers[name] == value, (path, name)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "object-src 'none'" in policy


def test_stored_html_reports_are_served_in_a_sandbox_and_pdfs_are_not_inline(app, client, run_worker):
    html_id = post_json(client, "/assignment/html", sample_students()).get_json()["task_id"]
    pdf_id = post_json(client, "/assignment/pdf", sample_students()).get_json()["task_id"]
    run_worker()
    for url in (f"/assignment/html/{html_id}", f"/assignment/html/{html_id}/students/0"):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/html"
        policy = [part.strip() for part in response.headers["Content-Security-Policy"].split(";")]
        assert policy[0] == "sandbox"
        assert "default-src 'none'" in policy and "script-src" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    pdf = client.get(f"/assignment/pdf/{pdf_id}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    assert not pdf.headers["Content-Security-Policy"].startswith("sandbox")


@pytest.fixture
def limited_app(app, config):
    """A tight budget; depends on `app`, which empties Redis (and so every counter) first."""
    return create_app({**config, "REPORTGEN_SUBMIT_RATE_LIMIT": "2 per minute", "REPORTGEN_RATE_LIMIT": "6 per minute"})


def test_submissions_past_the_limit_get_429_json_and_store_nothing(app, limited_app):
    client = limited_app.test_client()
    for _ in range(2):
        assert post_json(client, "/assignment/pdf", sample_students()).status_code == 202
    refused = post_json(client, "/assignment/pdf", sample_students())
    assert refused.status_code == 429
    assert refused.get_json() == {
        "error": "too many requests: the limit is 2 per 1 minute; wait for the seconds in Retry-After"}
    assert 0 < int(refused.headers["Retry-After"]) <= 61  # the window is a minute
    assert refused.headers["X-RateLimit-Limit"] == "2" and refused.headers["X-RateLimit-Remaining"] == "0"
    assert report_count(app) == 2


def test_each_address_has_its_own_budget_and_a_made_up_token_buys_no_new_one(limited_app):
    client = limited_app.test_client()
    for _ in range(2):
        assert post_json(client, "/assignment/sequence", sample_students()).status_code == 200
    assert post_json(client, "/assignment/sequence", sample_students()).status_code == 429
    made_up = client.post("/assignment/sequence", json=sample_students(), headers={"Authorization": "Bearer x1"})
    assert made_up.status_code == 429
    other_address = limited_app.test_client()
    response = other_address.post("/assignment/sequence", json=sample_students(),
                                  environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 200


def test_each_api_token_has_its_own_budget(app, config):
    tokens = ["token-one-0123456789", "token-two-0123456789"]
    client = create_app({**config, "REPORTGEN_API_TOKENS": tokens,
                         "REPORTGEN_SUBMIT_RATE_LIMIT": "1 per minute"}).test_client()

    def sequence(token):
        return client.post("/assignment/sequence", json=sample_students(),
                           headers={"Authorization": f"Bearer {token}"}).status_code

    assert [sequence(tokens[0]), sequence(tokens[0]), sequence(tokens[1])] == [200, 429, 200]


def test_sign_in_attempts_are_limited(app, config):
    client = create_app({**config, "REPORTGEN_ADMIN_PASSWORD": "the-password-0123",
                         "REPORTGEN_SIGNIN_RATE_LIMIT": "2 per minute"}).test_client()
    token = CSRF.search(client.get("/signin").text).group(1)
    statuses = [client.post("/signin", data={"csrf_token": token, "password": "guess"}).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]
    refused = client.post("/signin", data={"csrf_token": token, "password": "the-password-0123"})
    assert refused.status_code == 429 and "Slow down a little" in refused.text


def test_all_requests_of_a_client_share_one_budget_but_health_checks_are_never_limited(limited_app):
    client = limited_app.test_client()
    statuses = [client.get("/assignment/pdf/unknown").status_code for _ in range(7)]
    assert statuses == [404] * 6 + [429]
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 429
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))
    with client.get("/static/css/app.css") as stylesheet:
        assert stylesheet.status_code == 200


def test_people_get_a_page_in_plain_words_when_they_are_limited(limited_app):
    client = limited_app.test_client()
    for _ in range(6):
        client.get("/reports", headers={"Accept": "text/html"})
    page = client.get("/reports", headers={"Accept": "text/html"})
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert "Slow down a little" in page.text and "6 per 1 minute" in page.text


def test_limits_count_in_redis_so_every_process_shares_them(config, limited_app):
    first, second = limited_app.test_client(), create_app(
        {**config, "REPORTGEN_SUBMIT_RATE_LIMIT": "2 per minute"}).test_client()
    assert post_json(first, "/assignment/sequence", sample_students()).status_code == 200
    assert post_json(second, "/assignment/sequence", sample_students()).status_code == 200
    assert post_json(first, "/assignment/sequence", sample_students()).status_code == 429


def test_an_empty_limit_turns_it_off(config):
    client = create_app({**config, "REPORTGEN_SUBMIT_RATE_LIMIT": "", "REPORTGEN_RATE_LIMIT": ""}).test_client()
    statuses = {post_json(client, "/assignment/sequence", sample_students()).status_code for _ in range(80)}
    assert statuses == {200}


def test_with_redis_down_limits_fail_open_instead_of_failing_requests(config):
    client = create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0"}).test_client()
    response = post_json(client, "/assignment/sequence", sample_students())
    assert response.status_code == 200 and response.get_json()["students"][0]["student_id"] == "alice"


def test_forwarded_headers_are_ignored_unless_proxies_are_trusted(app, config):
    spoofing = create_app({**config, "REPORTGEN_SUBMIT_RATE_LIMIT": "1 per minute"}).test_client()
    assert post_json(spoofing, "/assignment/sequence", sample_students()).status_code == 200
    again = spoofing.post("/assignment/sequence", json=sample_students(), headers={"X-Forwarded-For": "198.51.100.9"})
    assert again.status_code == 429
    assert "Strict-Transport-Security" not in spoofing.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers


def test_behind_a_trusted_proxy_the_forwarded_client_and_scheme_count(app, config):
    proxied = create_app({**config, "REPORTGEN_SUBMIT_RATE_LIMIT": "1 per minute",
                          "REPORTGEN_TRUSTED_PROXIES": 1}).test_client()
    for address in ("198.51.100.1", "198.51.100.2"):
        response = proxied.post("/assignment/sequence", json=sample_students(), headers={"X-Forwarded-For": address})
        assert response.status_code == 200, address
    repeated = proxied.post("/assignment/sequence", json=sample_students(), headers={"X-Forwarded-For": "198.51.100.1"})
    assert repeated.status_code == 429
    secure = proxied.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
