"""``/docs`` in Chromium: Swagger UI from the package's bundled assets shows every operation of
``/openapi.json`` under the app's Content-Security-Policy, loading nothing from elsewhere."""
from __future__ import annotations

from .conftest import ARTIFACTS


def test_docs_page_shows_every_operation_under_the_apps_csp(live_server, page):
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    response = page.goto(f"{live_server}/docs")
    assert response.status == 200
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path")
    shown = {(block.inner_text().strip(), path.get_attribute("data-path"))
             for block, path in zip(page.locator(".opblock-summary-method").all(),
                                    page.locator(".opblock-summary-path").all())}
    assert shown == {
        ("POST", "/assignment"), ("POST", "/assignment/{report_format}"), ("POST", "/assignment/sequence"),
        ("GET", "/assignment/{report_format}/{task_id}"), ("DELETE", "/assignment/{report_format}/{task_id}"),
        ("GET", "/assignment/{report_format}/{task_id}/students/{position}"),
        ("GET", "/namespaces"), ("GET", "/namespaces/{namespace}"), ("PUT", "/namespaces/{namespace}"),
        ("DELETE", "/namespaces/{namespace}"), ("POST", "/namespaces/{namespace}/events"),
        ("DELETE", "/namespaces/{namespace}/students/{student_id}"), ("GET", "/namespaces/{namespace}/summary"),
        ("PUT", "/namespaces/{namespace}/roster"), ("GET", "/namespaces/{namespace}/roster"),
        ("POST", "/subscriptions"), ("GET", "/subscriptions"), ("GET", "/subscriptions/{subscription_id}"),
        ("PATCH", "/subscriptions/{subscription_id}"), ("DELETE", "/subscriptions/{subscription_id}"),
        ("POST", "/subscriptions/{subscription_id}/run"), ("GET", "/subscriptions/{subscription_id}/runs"),
        ("GET", "/healthz"), ("GET", "/readyz"),
        ("POST", "reportFinished"),  # the webhooks section
    }
    assert page.locator(".json-schema-2020-12__title", has_text="Envelope").count() == 1  # the schemas
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=True)
    assert [url for url in requests if not url.startswith(live_server)] == []
    assert problems == []
