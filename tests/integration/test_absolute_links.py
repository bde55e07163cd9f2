"""Absolute links in the API's answers and in webhooks (issue 19): under REPORTGEN_PUBLIC_URL when
it is set, else under the host the report was submitted to, which a worker (no request) takes
from the report. A real worker and a webhook receiver on loopback."""
from __future__ import annotations

from ..support.api import post_json, post_submission
from ..support.fakes import WEBHOOK_WORKER_ENV
from ..support.payloads import sample_students


def test_links_are_under_reportgen_public_url_when_it_is_set(make_app):
    client = make_app(REPORTGEN_PUBLIC_URL="https://reports.school.example/rg").test_client()
    one = post_submission(client, "csv").get_json()
    assert one["status_url"] == f"https://reports.school.example/rg/assignment/csv/{one['task_id']}"
    several = post_json(client, "/assignment", {"students": sample_students(), "formats": ["csv", "html"]}).get_json()
    assert several["status_page_url"] == f"https://reports.school.example/rg/reports/{several['task_ids'][0]}"
    assert several["reports"][1]["status_url"].startswith("https://reports.school.example/rg/assignment/")


def test_links_are_under_the_requests_host_without_the_setting_and_so_are_the_webhooks(hook_app, receiver,
                                                                                       run_worker):
    client = hook_app.test_client()
    response = post_json(client, "/assignment/csv", {"students": sample_students(), "callback_url": receiver.url()},
                         base_url="https://lms-proxy.example:8443")
    task_id = response.get_json()["task_id"]
    assert response.get_json()["status_url"] == f"https://lms-proxy.example:8443/assignment/csv/{task_id}"
    run_worker(**WEBHOOK_WORKER_ENV)  # the worker has no REPORTGEN_PUBLIC_URL and no request
    [request] = receiver.requests
    payload = request["verified"]
    assert payload["download_url"] == f"https://lms-proxy.example:8443/assignment/csv/{task_id}"
    assert payload["bundle_url"] == f"https://lms-proxy.example:8443/assignment/csv/{task_id}?bundle=zip"
    assert payload["summary"]["students"][0]["download_url"] == (
        f"https://lms-proxy.example:8443/assignment/csv/{task_id}/students/0")


def test_a_worker_with_reportgen_public_url_builds_webhook_links_under_it(hook_app, receiver, run_worker):
    client = hook_app.test_client()
    task_id = post_json(client, "/assignment/csv", {"students": sample_students(),
                                                    "callback_url": receiver.url()}).get_json()["task_id"]
    run_worker(**WEBHOOK_WORKER_ENV, REPORTGEN_PUBLIC_URL="https://reports.school.example/")
    [request] = receiver.requests
    assert request["verified"]["download_url"] == f"https://reports.school.example/assignment/csv/{task_id}"
