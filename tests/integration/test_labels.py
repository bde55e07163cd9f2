"""A ``label`` in the API's envelope (issue 19): the report's title, its status page's and its
status JSON's, as the upload form's label is; bounded and checked like the form's."""
from __future__ import annotations

import json

import pytest

from ..support.api import post_json, post_submission, status
from ..support.database import report_count
from ..support.pages import submit_form
from ..support.payloads import sample_students


LABEL = "Week 3 · الأسبوع الثالث"


def test_a_label_in_the_envelope_is_the_reports_title_and_is_in_its_status(client, run_worker):
    response = post_json(client, "/assignment/html", {"students": sample_students(), "label": f"  {LABEL} "})
    assert response.status_code == 202, response.get_json()
    task_id = response.get_json()["task_id"]
    assert response.get_json()["label"] == LABEL
    run_worker()
    body = status(client, "html", task_id)
    assert (body["status"], body["label"]) == ("SUCCESS", LABEL)
    document = client.get(f"/assignment/html/{task_id}").get_data(as_text=True)
    assert f"<title>{LABEL}" in document
    page = client.get(f"/reports/{task_id}").get_data(as_text=True)
    assert f"Ready: {LABEL}" in page


def test_a_report_without_a_label_says_null(client):
    assert post_submission(client).get_json()["label"] is None


@pytest.mark.parametrize("label, problem", [
    ("x" * 201, "has 201 characters; a label may have at most 200"),
    (17, "must be a string, not a number"),
    ("nul\u0000", "NUL"),
])
def test_a_label_too_long_or_not_text_is_400_naming_label_and_stores_nothing(app, client, label, problem):
    for path in ("/assignment/pdf", "/assignment"):
        response = post_json(client, path, {"students": sample_students(), "label": label, "formats": ["pdf"]}
                             if path == "/assignment" else {"students": sample_students(), "label": label})
        assert response.status_code == 400, response.get_json()
        assert problem in response.get_json()["details"]["label"]
    assert report_count(app) == 0


def test_the_upload_form_takes_a_pasted_envelopes_label_when_its_own_field_is_empty(client):
    envelope = json.dumps({"students": sample_students(), "label": LABEL})
    response = submit_form(client, text=envelope, formats=("html",))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Working…: {LABEL}" in page or f"Ready: {LABEL}" in page
    chosen = submit_form(client, text=envelope, formats=("html",), label="Chosen on the form")
    assert "Chosen on the form" in client.get(chosen.headers["Location"]).get_data(as_text=True)
