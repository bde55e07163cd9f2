"""Webhooks pushed by a real worker to a real receiver on loopback, which checks every signature
with the standardwebhooks library; retries, final failures and refused targets as a client sees
them in the status JSON."""
import json

import pytest
from redis import Redis
from standardwebhooks import Webhook, WebhookVerificationError

from reportgen import create_app

from ..support.api import post_json, status
from ..support.database import corrupt_student, report_count
from ..support.fakes import WEBHOOK_SECRET, WEBHOOK_WORKER_ENV
from ..support.payloads import event, sample_students, student
from ..support.processes import listening_workers, wait_until


def submit_with_hook(client, report_format: str, callback_url: str, students=None) -> str:
    response = post_json(client, f"/assignment/{report_format}",
                         {"students": students or sample_students(), "callback_url": callback_url})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


def webhook_of(client, report_format: str, task_id: str) -> dict:
    [delivery] = [d for d in status(client, report_format, task_id)["deliveries"] if d["kind"] == "webhook"]
    return delivery


def until_final(client, report_format: str, task_id: str, timeout: float = 120) -> dict:
    return wait_until(lambda: (d := webhook_of(client, report_format, task_id))["status"] in ("SENT", "FAILED") and d,
                      timeout, "the webhook to be delivered or given up")


def test_a_finished_report_is_pushed_signed_with_its_status_metadata(hook_app, receiver, run_worker):
    client = hook_app.test_client()
    task_id = submit_with_hook(client, "csv", receiver.url("/hooks/reports?source=reportgen"))
    queued = webhook_of(client, "csv", task_id)
    assert (queued["status"], queued["attempts"], queued["url"]) == (
        "QUEUED", 0, receiver.url("/hooks/reports?source=reportgen"))
    run_worker(**WEBHOOK_WORKER_ENV)
    [request] = receiver.requests
    assert request["path"] == "/hooks/reports?source=reportgen"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["webhook-signature"].startswith("v1,")
    payload = request["verified"]
    assert isinstance(payload, dict), payload  # the library accepted the signature
    metadata = client.get(f"/assignment/csv/{task_id}", headers={"Accept": "application/json"}).get_json()
    del metadata["deliveries"]
    assert payload == metadata
    assert (payload["task_id"], payload["format"], payload["status"]) == (task_id, "csv", "SUCCESS")
    assert payload["download_url"] == f"http://localhost/assignment/csv/{task_id}"
    assert payload["summary"]["succeeded"] == 2 and payload["students"][0]["metrics"]
    with pytest.raises(WebhookVerificationError):  # the signature is the secret's, not any
        Webhook("whsec_" + "b3RoZXItc2VjcmV0LW9mLWF0LWxlYXN0LTMyLWJ5dGVzIQ==").verify(request["body"],
                                                                                     request["headers"])
    delivery = webhook_of(client, "csv", task_id)
    assert (delivery["status"], delivery["attempts"], delivery["status_code"], delivery["error"]) == (
        "SENT", 1, 204, None)
    assert delivery["delivered_at"]
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert receiver.url("/hooks/reports?source=reportgen").replace("&", "&amp;") in page
    assert "webhook delivered" in page and "(HTTP 204)" in page


def test_a_failed_report_is_pushed_too_and_only_its_emails_are_skipped(hook_app, receiver, run_worker):
    hook_app.config["SMTP_HOST"] = "127.0.0.1"  # takes email at submit; none is sent: the report fails
    client = hook_app.test_client()
    response = post_json(client, "/assignment/html", {"students": [student("only", [event(1)])],
                                                      "email": ["head@school.example"],
                                                      "callback_url": receiver.url()})
    task_id = response.get_json()["task_id"]
    corrupt_student(hook_app, task_id, 0)
    run_worker(**WEBHOOK_WORKER_ENV)
    [request] = receiver.requests
    payload = request["verified"]
    assert isinstance(payload, dict), payload
    assert (payload["task_id"], payload["status"]) == (task_id, "FAILURE")
    assert payload["error"].startswith("All 1 students failed; the first error:")
    assert payload["summary"]["failed"] == 1
    email, webhook = status(client, "html", task_id)["deliveries"]
    assert (email["kind"], email["status"]) == ("email", "SKIPPED")
    assert (webhook["kind"], webhook["status"], webhook["status_code"]) == ("webhook", "SENT", 204)
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert "Notifications" in page and "webhook delivered" in page


def test_a_failing_receiver_is_retried_then_given_up_and_the_report_is_untouched(hook_app, receiver, config,
                                                                                   tmp_path):
    receiver.answers = [500]
    client = hook_app.test_client()
    task_id = submit_with_hook(client, "pdf", receiver.url())
    with listening_workers(config, tmp_path, 1, **WEBHOOK_WORKER_ENV):
        delivery = until_final(client, "pdf", task_id)
    assert (delivery["status"], delivery["attempts"], delivery["status_code"]) == ("FAILED", 3, 500)
    assert delivery["error"] == ("Gave up after 3 attempts. Last error: Attempt 3 failed: "
                                 "the receiver answered HTTP 500 Internal Server Error")
    assert delivery["delivered_at"] is None
    assert len(receiver.requests) == 3
    assert all(isinstance(request["verified"], dict) for request in receiver.requests)
    assert len({request["headers"]["webhook-id"] for request in receiver.requests}) == 1  # one message, retried
    body = status(client, "pdf", task_id)
    assert (body["status"], body["attempts"], body.get("error")) == ("SUCCESS", 1, None)
    report = client.get(f"/assignment/pdf/{task_id}")
    assert report.status_code == 200 and report.data.startswith(b"%PDF")
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert "webhook not delivered after 3 attempts" in page


def test_429_and_a_timeout_are_retried_until_delivered(hook_app, receiver, config, tmp_path):
    receiver.answers = [429, ("sleep", 4), 200]
    client = hook_app.test_client()
    task_id = submit_with_hook(client, "html", receiver.url())
    with listening_workers(config, tmp_path, 1, **WEBHOOK_WORKER_ENV):
        delivery = until_final(client, "html", task_id)
    assert (delivery["status"], delivery["attempts"], delivery["status_code"], delivery["error"]) == (
        "SENT", 3, 200, None)
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("answer, error", [
    (410, "The receiver answered HTTP 410 Gone"),
    ((302, {"Location": "http://10.0.0.1/internal"}),
     "The receiver answered HTTP 302 Found; redirects are not followed"),
])
def test_a_4xx_or_a_redirect_fails_at_once(hook_app, receiver, run_worker, answer, error):
    """Neither is retried, and a redirect (here to a private address) is never followed."""
    receiver.answers = [answer]
    client = hook_app.test_client()
    task_id = submit_with_hook(client, "csv", receiver.url())
    run_worker(**WEBHOOK_WORKER_ENV)
    delivery = webhook_of(client, "csv", task_id)
    assert (delivery["status"], delivery["attempts"], delivery["error"]) == ("FAILED", 1, error)
    assert delivery["status_code"] == (answer if isinstance(answer, int) else answer[0])
    assert len(receiver.requests) == 1
    assert status(client, "csv", task_id)["status"] == "SUCCESS"


def test_the_target_is_checked_again_when_sending(hook_app, receiver, run_worker):
    """A URL that was allowed at submit but is not when the worker sends (here: the worker's
    allow-list does not list loopback) is refused, and nothing is sent."""
    client = hook_app.test_client()
    task_id = submit_with_hook(client, "csv", receiver.url())
    run_worker(**{**WEBHOOK_WORKER_ENV, "REPORTGEN_WEBHOOK_ALLOW": ""})
    delivery = webhook_of(client, "csv", task_id)
    assert (delivery["status"], delivery["attempts"], delivery["status_code"]) == ("FAILED", 1, None)
    assert delivery["error"].startswith("The URL was refused: 127.0.0.1 is a loopback address")
    assert receiver.requests == []


@pytest.mark.parametrize("callback_url, reason", [
    ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
    ("http://localhost:8080/hook", "is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is the cloud metadata address"),
    ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("http://[::1]/hook", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/hook", "is a loopback address"),
    ("http://0.0.0.0/hook", "0.0.0.0 is the unspecified address"),
    ("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
    ("ftp://example.com/hook", "must be an http or https URL, not ftp:"),
    ("file:///etc/passwd", "must be an http or https URL, not file:"),
    ("not a url", "must be a URL without spaces"),
    ("/relative/path", "must be an http or https URL, not a relative one"),
    ("http://:80/hook", "must name a host"),
    ("http://exa..mple.com/hook", "its host name exa..mple.com is not valid"),
    ("http://example.com:99999/hook", "is not a valid URL"),
    ("https://user:secret@example.com/hook", "must not hold a user name or password"),
    (42, "must be an http or https URL, not a number"),
])
def test_refused_callback_urls_are_400_naming_the_field(app, config, callback_url, reason):
    client = create_app({**config, "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET}).test_client()
    response = post_json(client, "/assignment/pdf", {"students": sample_students(), "callback_url": callback_url})
    assert response.status_code == 400, response.get_json()
    details = response.get_json()["details"]
    assert list(details) == ["callback_url"] and reason in details["callback_url"], details
    assert report_count(app) == 0


@pytest.mark.parametrize("callback_url", ["http://8.8.8.8/hook", "http://[2001:4860:4860::8888]/hook",
                                          "http://[::ffff:8.8.8.8]/hook", "http://[64:ff9b::808:808]/hook",
                                          "https://8.8.8.8:443/hook"])
def test_public_addresses_are_taken_also_ipv4_mapped_and_nat64_ones(app, config, callback_url):
    """An IPv6 address that stands for a public IPv4 one (how an IPv6-only network reaches it) is public."""
    client = create_app({**config, "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET}).test_client()
    response = post_json(client, "/assignment/csv", {"students": sample_students(), "callback_url": callback_url})
    assert response.status_code == 202, response.get_json()


def test_the_allow_list_takes_hosts_and_ranges(app, config):
    for allow in (["127.0.0.0/8"], ["localhost"], ["::1", "127.0.0.1"]):
        client = create_app({**config, "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET,
                             "REPORTGEN_WEBHOOK_ALLOW": allow}).test_client()
        response = post_json(client, "/assignment/csv", {"students": sample_students(),
                                                         "callback_url": "http://localhost:9/hook"})
        assert response.status_code == 202, (allow, response.get_json())


def test_without_a_secret_a_callback_url_is_400_naming_the_variable(client):
    response = post_json(client, "/assignment/pdf", {"students": sample_students(),
                                                     "callback_url": "https://example.com/hook"})
    assert response.status_code == 400
    assert response.get_json()["details"] == {
        "callback_url": "webhooks are not configured on this server (REPORTGEN_WEBHOOK_SECRET is unset)"}


def test_a_webhook_whose_job_was_lost_is_sent_after_a_sweep(hook_app, receiver, config, run_worker):
    """Also for a report that failed, whose emails the sweeper leaves alone."""
    receiver.answers = [503, 200]
    client = hook_app.test_client()
    task_id = submit_with_hook(client, "html", receiver.url(), [student("only", [event(1)])])
    corrupt_student(hook_app, task_id, 0)
    run_worker(**{**WEBHOOK_WORKER_ENV, "REPORTGEN_WEBHOOK_RETRY_INTERVALS": "3600"})  # the retry is an hour ahead
    assert status(client, "html", task_id)["status"] == "FAILURE"
    delivery = webhook_of(client, "html", task_id)
    assert (delivery["status"], delivery["attempts"], delivery["status_code"]) == ("QUEUED", 1, 503)
    Redis.from_url(config["REDIS_URL"]).flushdb()
    hook_app.config["REPORTGEN_STALE_AFTER"] = 0
    assert hook_app.test_cli_runner().invoke(args=["reportgen", "sweep"]).output == "sweep: 1 deliveries requeued\n"
    run_worker(**WEBHOOK_WORKER_ENV)
    delivery = webhook_of(client, "html", task_id)
    assert (delivery["status"], delivery["attempts"], delivery["status_code"]) == ("SENT", 2, 200)
    assert [request["verified"]["status"] for request in receiver.requests] == ["FAILURE", "FAILURE"]


def test_a_refused_callback_url_is_one_problem_among_the_datas(app, config):
    client = create_app({**config, "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET}).test_client()
    response = post_json(client, "/assignment/pdf", {"students": [{"student_id": "s1", "namespace": "course-1"}],
                                                     "callback_url": "http://169.254.169.254/latest"})
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert set(details) == {"students[0].events", "callback_url"}, details
    assert report_count(app) == 0


def test_a_webhook_retry_that_goes_as_planned_logs_one_line_and_no_traceback(hook_app, receiver, config, tmp_path):
    receiver.answers = [503, 204]
    client = hook_app.test_client()
    task_id = post_json(client, "/assignment/csv", {"students": sample_students(),
                                                    "callback_url": receiver.url()}).get_json()["task_id"]
    with listening_workers(config, tmp_path, 1, **WEBHOOK_WORKER_ENV):
        wait_until(lambda: [d for d in status(client, "csv", task_id)["deliveries"] if d["status"] == "SENT"], 120,
                   "the webhook to be delivered on its second attempt")
    log = (tmp_path / "deliveries.log").read_text()
    assert "Traceback" not in log, log
    failed = [line for line in log.splitlines() if "HTTP 503" in line]  # not a PID such as 5035
    assert len(failed) == 1, log
    line = json.loads(failed[0])
    assert (line["level"], line["task_id"]) == ("WARNING", task_id)
    assert line["message"].startswith("job delivery-") and line["message"].endswith(
        " (send report webhook): webhook attempt 1 failed: the receiver answered HTTP 503 Service Unavailable; "
        "retrying, up to 2 more attempts")
