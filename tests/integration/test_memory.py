"""The largest upload the server accepts renders within the stated worker budget (600 MiB) in
every format, measured on the real work horses as they run (their RSS, which counts the pages
they share with their warm parent)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import psutil
import pytest

from ..support.api import post_json, status
from ..support.processes import listening_workers, worker_processes

WORKER_BUDGET = 600 * 2**20


def largest_accepted_upload(cap: int, body_limit: int) -> list[dict]:
    """One student with as many events as the object cap lets through in an envelope with
    options (the envelope, its options and the student are objects too), one a minute on 30
    units: the heaviest single student there can be."""
    start = datetime(2024, 7, 1, 8, tzinfo=timezone.utc)
    events = [{"unit": str(n % 30), "type": "saved_code",
               "created_time": (start + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")}
              for n in range(cap - 3)]
    upload = [{"student_id": "the-largest", "namespace": "course-1", "events": events}]
    assert len(json.dumps(upload)) <= body_limit
    return upload


@pytest.mark.parametrize("report_format, options", [("pdf", {"event_log": True}), ("html", {}), ("csv", {})])
def test_the_largest_accepted_upload_renders_within_the_worker_budget(app, client, config, tmp_path,
                                                                      report_format, options):
    upload = largest_accepted_upload(app.config["REPORTGEN_MAX_UPLOAD_OBJECTS"], app.config["MAX_CONTENT_LENGTH"])
    with listening_workers(config, tmp_path, 2):
        response = post_json(client, f"/assignment/{report_format}", {"students": upload, "options": options})
        assert response.status_code == 202, response.get_json()
        task_id = response.get_json()["task_id"]
        peak, deadline = 0, time.monotonic() + 300
        while (body := status(client, report_format, task_id))["status"] not in ("SUCCESS", "FAILURE"):
            for process in worker_processes():
                try:
                    peak = max(peak, process.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            assert time.monotonic() < deadline, "the report did not finish in 5 minutes"
            time.sleep(0.2)
    assert body["status"] == "SUCCESS", body.get("error")
    assert peak > 100 * 2**20, "no work horse was seen working"
    assert peak < WORKER_BUDGET, f"a worker reached {peak / 2**20:.0f} MiB"
    document = client.get(f"/assignment/{report_format}/{task_id}")
    assert document.status_code == 200 and len(document.data) > 1_000_000
