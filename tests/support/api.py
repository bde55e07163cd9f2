"""The JSON API as a client calls it: one way to submit, poll and authenticate."""
from __future__ import annotations

import json

from .payloads import sample_students


def post_json(client, url: str, payload, **kwargs) -> object:
    return client.post(url, data=json.dumps(payload), content_type="application/json", **kwargs)


def post_submission(client, report_format: str = "html", students: list[dict] | None = None, *,
                    options: dict | None = None, email=None, body: str | None = None,
                    idempotency_key: str | None = None, headers: dict | None = None, **kwargs):
    """POST a submission to ``/assignment/<format>`` as a JSON client does; the response.

    ``students`` (the two of :func:`sample_students` unless given) go in an envelope with
    ``options`` and ``email`` when either is given; ``body`` is sent as it is instead. The
    ``Idempotency-Key`` header is sent when ``idempotency_key`` is given."""
    if body is None:
        students = sample_students() if students is None else students
        envelope = {key: value for key, value in (("options", options), ("email", email)) if value is not None}
        body = json.dumps({"students": students, **envelope} if envelope else students)
    headers = {**({"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}), **(headers or {})}
    return client.post(f"/assignment/{report_format}", data=body, content_type="application/json",
                       headers=headers, **kwargs)


def submit(client, report_format: str = "html", students: list[dict] | None = None, **kwargs) -> str:
    """:func:`post_submission`, answered 202; the report's task id."""
    response = post_submission(client, report_format, students, **kwargs)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


def status(client, report_format: str, task_id: str) -> dict:
    return client.get(f"/assignment/{report_format}/{task_id}", headers={"Accept": "application/json"}).get_json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
