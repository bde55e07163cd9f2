"""A webhook receiver that answers as slowly as it can, on purpose: it sends ``HTTP/1.1 200 OK``
and then one header byte every 2 s. Each attempt ends at ``REPORTGEN_WEBHOOK_TIMEOUT`` however
it trickles, is retried as a temporary failure, and the receiver holds only the delivery worker:
another client's report takes the time it takes without it. Real workers, on both databases."""
from __future__ import annotations

import time

from ..support.api import post_json, status
from ..support.fakes import WEBHOOK_SECRET, WEBHOOK_WORKER_ENV, TricklingReceiver
from ..support.payloads import sample_students
from ..support.processes import listening_workers, wait_until

ATTEMPT_SECONDS = 3
WORKERS_ENV = {**WEBHOOK_WORKER_ENV, "REPORTGEN_WEBHOOK_TIMEOUT": str(ATTEMPT_SECONDS)}


def submitted(client, report_format: str, body) -> str:
    response = post_json(client, f"/assignment/{report_format}", body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


def finished(client, report_format: str, task_id: str, timeout: float = 120) -> dict:
    body = wait_until(lambda: (b := status(client, report_format, task_id))["status"] in ("SUCCESS", "FAILURE") and b,
                      timeout, "the report to finish")
    assert body["status"] == "SUCCESS", body.get("error")
    return body


def seconds_to_finish(client, report_format: str, students) -> float:
    """From the submit to a finished report, as its client sees it."""
    started = time.monotonic()
    finished(client, report_format, submitted(client, report_format, students))
    return time.monotonic() - started


def webhook(client, report_format: str, task_id: str) -> dict:
    return next(d for d in status(client, report_format, task_id)["deliveries"] if d["kind"] == "webhook")


def test_a_receiver_that_trickles_its_headers_holds_no_report_worker(any_database_app, tmp_path):
    app = any_database_app
    app.config.update(REPORTGEN_WEBHOOK_SECRET=WEBHOOK_SECRET, REPORTGEN_WEBHOOK_ALLOW=["127.0.0.1"])
    client = app.test_client()
    with TricklingReceiver(every=2) as receiver, listening_workers(app.config, tmp_path, 2, **WORKERS_ENV) as logs:
        seconds_to_finish(client, "pdf", sample_students())  # the first report of a worker warms its connections
        alone = seconds_to_finish(client, "pdf", sample_students())

        hooked = [submitted(client, "csv", {"students": sample_students(), "callback_url": receiver.url()})
                  for _ in range(2)]
        for task_id in hooked:
            finished(client, "csv", task_id)
        wait_until(lambda: receiver.open_connections, 30, "the receiver to hold a webhook")

        beside_them = seconds_to_finish(client, "pdf", sample_students())
        assert abs(beside_them - alone) <= 5, (alone, beside_them)
        assert receiver.open_connections, "the receiver let go before the other client's report was done"

        deliveries = [wait_until(lambda: (d := webhook(client, "csv", task_id))["status"] == "FAILED" and d, 120,
                                 "the webhook to be given up") for task_id in hooked]
    for delivery in deliveries:
        assert (delivery["attempts"], delivery["status_code"]) == (3, None)
        assert delivery["error"] == ("Gave up after 3 attempts. Last error: Attempt 3 failed: "
                                     f"no answer within {ATTEMPT_SECONDS} s")
    held = [closed - opened for opened, closed in receiver.connections]
    print(f"another client's report: {alone:.1f} s alone, {beside_them:.1f} s beside two trickling receivers; "
          f"each attempt held for {', '.join(f'{seconds:.1f}' for seconds in held)} s", flush=True)
    assert len(held) == 6, held  # two webhooks, three attempts each
    assert all(ATTEMPT_SECONDS - 0.5 <= seconds <= ATTEMPT_SECONDS + 1 for seconds in held), held
    for log in [*logs, tmp_path / "deliveries.log"]:
        assert "Traceback" not in log.read_text(), log
