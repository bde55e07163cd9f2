"""Builders for submissions used across the tests."""
from __future__ import annotations

import json


def student(student_id: str, events: list[dict], namespace: str = "course-1") -> dict:
    return {"student_id": student_id, "namespace": namespace, "events": events}


def event(unit, created_time: str | None = None, type_: str = "saved_code") -> dict:
    body = {"unit": unit, "type": type_}
    if created_time is not None:
        body["created_time"] = created_time
    return body


def sample_students() -> list[dict]:
    """Two students of one namespace, one of them with a non-Latin id."""
    return [
        student("alice", [
            event("17", "2024-07-21 03:04:55.939000+00:00"),
            event(5, "2024-07-21 03:00:00+00:00"),
            event("17", "2024-07-21T05:04:55+02:00"),
        ]),
        student("Zoë Дмитрий Ωμέγα", [
            event("9", "2024-07-22T10:00:00Z"),
            event("10", "2024-07-22T09:00:00Z"),
        ]),
    ]


def post_json(client, url: str, payload) -> object:
    return client.post(url, data=json.dumps(payload), content_type="application/json")
