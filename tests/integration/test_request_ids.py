"""One request id from the submitting request to the report's jobs, webhook and email, on a live
`make run` stack: a caller's X-Request-ID is what an operator greps for in every process's log."""
import json
import signal
import urllib.request

import pytest

from ..support.api import status
from ..support.fakes import WEBHOOK_WORKER_ENV
from ..support.payloads import sample_students
from ..support.processes import make_run_stack, readyz, stack_workers, wait_until

CALLERS_ID = "caller-7f3a9c2e.trace:01"


@pytest.mark.parametrize("header, kept", [(CALLERS_ID, True), ("has spaces in it", False), ("x" * 129, False),
                                          ("", False)])
def test_every_response_answers_the_request_id_keeping_only_a_valid_one(client, header, kept):
    for response in (client.get("/healthz", headers={"X-Request-ID": header}),
                     client.get("/assignment/pdf/" + "0" * 36, headers={"X-Request-ID": header}),
                     client.post("/assignment/pdf", data="{", content_type="application/json",
                                 headers={"X-Request-ID": header})):
        answered = response.headers["X-Request-ID"]
        assert (answered == header) if kept else (len(answered) == 32 and answered != header)


def test_the_status_json_shows_the_request_id_that_submitted_the_report(client):
    response = client.post("/assignment/csv", data=json.dumps(sample_students()), content_type="application/json",
                           headers={"X-Request-ID": CALLERS_ID})
    assert status(client, "csv", response.get_json()["task_id"])["request_id"] == CALLERS_ID
    made_up = client.post("/assignment/csv", data=json.dumps(sample_students()), content_type="application/json")
    assert status(client, "csv", made_up.get_json()["task_id"])["request_id"] == made_up.headers["X-Request-ID"]


def test_a_callers_request_id_is_in_the_web_log_the_worker_log_the_webhook_and_the_email(tmp_path, mailbox,
                                                                                         receiver):
    box, smtp_port = mailbox
    with make_run_stack(tmp_path, REPORTGEN_WORKERS="1", REPORTGEN_LOG_FORMAT="json", SMTP_HOST="127.0.0.1",
                        SMTP_PORT=str(smtp_port), REPORTGEN_API_TOKENS="", REPORTGEN_ADMIN_PASSWORD="",
                        **WEBHOOK_WORKER_ENV) as (stack, port):
        wait_until(lambda: len(stack_workers(stack)) == 1 and (readyz(port) or {}).get("status") == "ok", 90,
                   "the stack to be ready")
        body = {"students": sample_students(), "email": ["teacher@school.example"], "callback_url": receiver.url()}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/assignment/pdf", method="POST",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "X-Request-ID": CALLERS_ID})
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.headers["X-Request-ID"] == CALLERS_ID
            answer = json.load(reply)
        wait_until(lambda: receiver.requests and box.messages, 120, "the webhook and the email")

        status_request = urllib.request.Request(answer["status_url"],  # absolute: this server's own address
                                                headers={"Accept": "application/json"})
        with urllib.request.urlopen(status_request, timeout=10) as reply:
            assert json.load(reply)["request_id"] == CALLERS_ID
        stack.send_signal(signal.SIGINT)
        output, _ = stack.communicate(timeout=60)

    [webhook] = receiver.requests
    assert webhook["headers"]["X-Request-ID"] == CALLERS_ID
    [message] = box.messages
    assert message["X-Request-ID"] == CALLERS_ID
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    tagged = [line for line in lines if line.get("request_id") == CALLERS_ID]
    loggers = {line["logger"] for line in tagged}
    assert "gunicorn.access" in loggers  # the web server's line for the submit
    assert "reportgen.pipeline.submit" in loggers  # the app's, in the web process
    assert {"reportgen.pipeline.chunks", "reportgen.pipeline.assembly"} <= loggers  # the worker's
    assert all(line.get("task_id") == answer["task_id"] for line in tagged if line["logger"].startswith("reportgen.pipeline"))
