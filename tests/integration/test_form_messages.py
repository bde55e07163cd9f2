"""The upload's problems as people read them (issue 13): every problem in one submit, plain
words counting from one, repeats grouped with a count, JSON syntax errors at the real culprit
with the line before, an empty upload said as such; the API keeps its paths and body shape."""
from __future__ import annotations

import html
import json
import re

import pytest

from reportgen import create_app
from reportgen.domain.plain_words import in_plain_words
from reportgen.domain.submission import EmptySubmission, MalformedJSON, SubmissionError, loads
from reportgen.domain.upload import parse_upload
from reportgen.extensions import db
from reportgen.web.forms import excerpt

from ..support.api import post_json
from ..support.database import report_count
from ..support.pages import block, submit_form
from ..support.payloads import event, student, three_mistakes
from ..support.processes import ROOT

EXAMPLE = ROOT / "examples" / "students.json"
PROGRAMMER_WORDS = re.compile(r"\$|\[\d+\]|Expecting|JSONDecodeError|line 1 column 1")


def problems_of(document, **kwargs) -> dict[str, str]:
    with pytest.raises(SubmissionError) as caught:
        parse_upload(document, **kwargs)
    return caught.value.details


def culprit_of(text: str) -> MalformedJSON:
    with pytest.raises(MalformedJSON) as caught:
        loads(text)
    return caught.value




@pytest.fixture
def mail_app(config):
    app = create_app({**config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 2525})
    yield app
    with app.app_context():
        db.engine.dispose()


# --- plain words, from the same facts as the API's paths ----------------------------------------

def test_the_api_keeps_its_zero_based_paths_and_body_shape(client):
    body = post_json(client, "/assignment/html", three_mistakes()).get_json()
    assert set(body) == {"error", "details"} and body["error"] == "invalid submission: 62 problems"
    assert body["details"]["[0].student_id"] == "is required"
    assert body["details"]["[1].events[0].unit"] == "is required"
    assert body["details"]["[1].events[59].unit"] == "is required"
    assert body["details"]["[2].events[0].created_time"].startswith("'next tuesday' is not an ISO 8601 date-time")


def test_a_problem_in_plain_words_counts_from_one_and_names_the_student():
    document = [student("s-001", [event(1)]), student("s-002", [{"type": "x"}])]
    assert in_plain_words(problems_of(document), document) == ["Student 2 (s-002), event 1: the unit is missing"]


def test_sixty_repeats_of_one_mistake_are_one_line_with_a_count():
    document = three_mistakes()
    lines = in_plain_words(problems_of(document), document)
    assert lines == [
        "Student 1: the student id is missing",
        "Events 1–60 of student 2 (s-002): the unit is missing (60 times)",
        "Student 3 (s-003), event 1: the time (created_time) 'next tuesday' is not an ISO 8601 date-time "
        "(e.g. 2024-07-21 03:04:55.939000+00:00)",
    ]


def test_repeats_with_different_values_are_grouped_showing_the_first():
    document = [student("s-001", [event(1, "soon"), event(2, "later"), event(3), event(4, "never")])]
    assert in_plain_words(problems_of(document), document) == [
        "Events 1–2 and 4 of student 1 (s-001): the time (created_time) is not an ISO 8601 date-time "
        "(e.g. 2024-07-21 03:04:55.939000+00:00) (3 times; the first is 'soon')"]


def test_the_same_mistake_in_many_students_is_one_line():
    document = [{"events": []} for _ in range(5)] + [student("ok", [])]
    assert in_plain_words(problems_of(document), document) == ["Students 1–5: the student id is missing (5 times)"]


def test_a_duplicate_student_names_the_first_one_counting_from_one():
    document = [student("alice", []), student("bob", []), student("alice", [])]
    assert in_plain_words(problems_of(document), document) == [
        "Student 3 (alice): the student id duplicates student 1 (alice) in the same namespace; "
        "put all of a student's events in one entry"]


def test_envelope_email_and_options_in_plain_words():
    document = {"students": [student("s", [{"unit": True}])], "email": ["ok@school.example", "nope"],
                "options": {"units": {"course-1": ["5", ""]}}}
    lines = in_plain_words(problems_of(document), document)
    assert lines[0] == "Student 1 (s), event 1: the unit must be a non-empty string or an integer, not a boolean"
    assert lines[1].startswith("Unit order for course-1, unit 2: ")
    assert lines[2].startswith("Email address 2: 'nope' is not a valid email address")


def test_nothing_zero_based_and_no_dollar_in_plain_words():
    cases = [[], None, [1, "x"], {"student_id": "s", "events": [{"unit": None}, 7]}, [student("s", "x")]]
    for document in cases:
        for line in in_plain_words(problems_of(document), document):
            assert not PROGRAMMER_WORDS.search(line), line
    assert in_plain_words(problems_of([]), []) == ["The data must contain at least one student"]
    assert in_plain_words(problems_of({"student_id": "s", "events": [{"unit": None}, 7]}), None) == [
        "The student, event 1: the unit must be a non-empty string or an integer, not null",
        "The student, event 2: the event must be an object, not a number"]


def test_csv_problems_stay_by_row_and_column_and_are_grouped():
    details = {f"row {row}, column unit": "is required" for row in range(3, 63)}
    details["row 70, column created_time"] = "'soon' is not an ISO 8601 date-time"
    assert in_plain_words(details) == ["Rows 3–62, column unit: the cell is empty (60 times)",
                                       "Row 70, column created_time: 'soon' is not an ISO 8601 date-time"]


def test_problems_only_counted_end_the_list():
    assert in_plain_words({"[0].student_id": "is required"}, None, not_shown=1234)[-1] == \
        "… and 1,234 more problems not listed here."


# --- JSON syntax errors at the real culprit ------------------------------------------------------

def test_a_trailing_comma_is_found_at_the_comma_not_at_the_bracket_on_the_next_line():
    found = culprit_of('[1, 2,\n]')
    assert (found.line, found.column) == (1, 6)
    assert found.reason.startswith("a comma after the last item: remove this comma")
    found = culprit_of('[{"student_id": "a", "events": [],\n  }\n]')
    assert (found.line, found.column) == (1, 34)


def test_a_missing_closing_quote_is_found_at_the_start_of_the_string():
    found = culprit_of('[{"student_id": "alice,\n  "events": []}]')
    assert (found.line, found.column) == (1, 17)
    assert found.reason == 'this text has no closing quote (") before the end of the line'
    found = culprit_of('[{"student_id": "al\\"ice, "events": []}]')  # an escaped quote does not end it
    assert (found.line, found.column) == (1, 28) and "a quote (\") is missing or one too many" in found.reason
    found = culprit_of('{"student_id": "s", "events": [], "x": "never closed')
    assert (found.line, found.column) == (1, 40) and found.reason == 'this text has no closing quote (")'


@pytest.mark.parametrize("text, line, column, words", [
    ('[1,\n 2\n "x"]', 2, 3, "a comma is missing at the end of this line"),
    ('{"a" 1}', 1, 5, "a colon (:) is missing after this name"),
    ("[1]]", 1, 4, "one ] too many"),
    ("[1] [2]", 1, 5, "more after the end of the data"),
    ("{'student_id': 1}", 1, 2, "a name in single quotes: JSON needs double quotes"),
    ('{student_id: 1}', 1, 2, 'a name without quotes: put text in double quotes, as in "student_id"'),
    ("[True]", 1, 2, "True is not JSON: write true (in lower case)"),
    ('[{"a": 1}', 1, 1, "this [ is never closed: the JSON ends before its ]"),
    ('[{"a": 1},', 1, 10, "the JSON ends after this comma"),
    ('["a\\qb"]', 1, 4, "a backslash (\\) inside quotes must be written as \\\\"),
    ('["a\tb"]', 1, 4, "a tab inside quotes: write it as \\t"),
    ('{"x": NaN}', 1, 7, "NaN is not JSON: write a number or null"),
])
def test_other_syntax_errors_in_plain_words(text, line, column, words):
    found = culprit_of(text)
    assert (found.line, found.column) == (line, column) and found.reason.startswith(words)
    assert not PROGRAMMER_WORDS.search(found.reason)


def test_the_excerpt_shows_the_line_before_and_a_caret_under_the_culprit():
    assert excerpt('[\n  {"unit": 1},\n]', 2, 14) == [
        "1 │ [",
        "2 │   {\"unit\": 1},",
        "  │              ^",
    ]
    long_line = "x" * 200 + ","
    lines = excerpt("[\n" + long_line + "\n]", 2, 201)
    assert lines[1].startswith("2 │ …") and lines[2].index("^") == lines[1].index(",")


def test_an_empty_or_blank_text_is_empty_not_malformed():
    for text in ("", b"", " \n\t", b"\xef\xbb\xbf\n"):
        with pytest.raises(EmptySubmission):
            loads(text)


# --- the API -----------------------------------------------------------------------------------

def test_the_api_400_for_malformed_json_gains_the_plain_message(app, client):
    response = client.post("/assignment/html", data='[1, 2,\n]', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "malformed JSON", "details": {
        "$": "a comma after the last item: remove this comma (JSON allows none before a ] or }) "
             "at line 1, column 6"}}


@pytest.mark.parametrize("body", [b"", b"   \r\n\t "])
def test_an_empty_body_says_so_on_the_api(app, client, body):
    for url in ("/assignment/html", "/assignment/sequence"):
        response = client.post(url, data=body, content_type="application/json")
        assert response.status_code == 400
        answer = response.get_json()
        assert answer["error"] == "empty request body"
        assert answer["details"]["$"].startswith("The request body is empty: send the students as JSON")
    assert report_count(app) == 0


def test_the_api_reports_the_email_problem_with_the_data_problems_at_once(app, client):
    """Without SMTP_HOST, an envelope with addresses and bad data gets every problem in one answer."""
    body = post_json(client, "/assignment/pdf", {"students": three_mistakes(), "email": ["a@school.example"]})
    assert body.status_code == 400
    details = body.get_json()["details"]
    assert details["email"] == "this server has no SMTP server configured (SMTP_HOST)"
    assert "students[0].student_id" in details and "students[1].events[59].unit" in details
    assert report_count(app) == 0


# --- the form ----------------------------------------------------------------------------------

def test_the_form_shows_the_data_and_the_email_problems_in_one_submit(app, client):
    response = submit_form(client, text=json.dumps(three_mistakes()), email="teacher@school.example")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    data = block(page, "text-errors")
    assert "62 problems to fix" in data
    assert "Student 1: the student id is missing" in data
    assert "Events 1–60 of student 2 (s-002): the unit is missing (60 times)" in data
    assert "Student 3 (s-003), event 1: the time (created_time) 'next tuesday' is not" in data
    assert "Email is not set up on this server (SMTP_HOST)" in block(page, "email-errors")
    assert 'value="teacher@school.example"' in page  # shown, so the addresses can be removed
    assert not PROGRAMMER_WORDS.search(data)
    assert report_count(app) == 0


def test_the_form_shows_field_and_data_problems_together(app, client):
    response = submit_form(client, text=json.dumps(three_mistakes()), formats=(),
                           options=[("idle_cutoff_minutes", "0")])
    page = response.get_data(as_text=True)
    assert "Choose at least one format." in block(page, "formats-errors")
    assert "Choose a whole number of minutes from 1 to 1440." in block(page, "idle-errors")
    data = block(page, "text-errors")
    assert "(60 times)" in data and "Idle" not in data  # the field's own problem is not said twice


def test_an_envelope_with_email_on_a_server_without_smtp_is_one_more_problem_in_the_list(app, client):
    envelope = {"students": three_mistakes(), "email": ["teacher@school.example"]}
    data = block(submit_form(client, text=json.dumps(envelope)).get_data(as_text=True), "text-errors")
    assert "63 problems to fix" in data and "(60 times)" in data
    assert "Email: this server has no SMTP server configured (SMTP_HOST)" in data


def test_the_email_field_is_only_shown_when_email_is_on(client, mail_app):
    assert 'name="email"' not in client.get("/").get_data(as_text=True)
    assert 'name="email"' in mail_app.test_client().get("/").get_data(as_text=True)


def test_the_form_points_at_a_trailing_comma_with_the_line_before(app, client):
    text = '[\n  {"student_id": "a", "events": []},\n]'
    response = submit_form(client, text=text)
    page = response.get_data(as_text=True)
    errors = block(page, "text-errors")
    assert "The JSON can’t be read at  line 2, column 36" in errors
    assert "A comma after the last item: remove this comma" in errors
    snippet = html.unescape(re.search(r'<pre class="snippet"[^>]*><code>(.*?)</code></pre>', page, re.S).group(1))
    assert re.sub(r"<[^>]+>", "", snippet).split("\n") == [
        "1 │ [", '2 │   {"student_id": "a", "events": []},', "  │ " + " " * 35 + "^"]
    assert not PROGRAMMER_WORDS.search(errors)


def test_the_form_points_at_a_missing_quote(app, client):
    errors = block(submit_form(client, text='[{"student_id": "a,\n "events": []}]').get_data(as_text=True),
                   "text-errors")
    assert "line 1, column 17" in errors and "This text has no closing quote" in errors


def test_an_empty_file_on_the_form_says_it_is_empty(app, client):
    errors = block(submit_form(client, file=("students.json", b"  \n")).get_data(as_text=True), "file-errors")
    assert "students.json : The file is empty" in errors and "malformed" not in errors
    assert "line 1" not in errors


def test_nothing_at_all_on_the_form_says_so(app, client):
    page = submit_form(client).get_data(as_text=True)
    assert "Choose a JSON or CSV file, or paste JSON or CSV into the text box." in block(page, "source-errors")


# --- example data ------------------------------------------------------------------------------

def test_the_upload_page_offers_the_example_and_fills_it_in_without_javascript(client):
    page = client.get("/").get_data(as_text=True)
    assert '<a class="button" id="try-example" href="/?example=1" data-example-url="/example.json">' \
           "Try it with example data</a>" in page
    filled = client.get("/?example=1").get_data(as_text=True)
    kept = re.search(r'<textarea[^>]*name="text"[^>]*>\r?\n?(.*?)</textarea>', filled, re.S).group(1)
    assert html.unescape(kept) == EXAMPLE.read_text(encoding="utf-8")
    assert "<textarea" in page and re.search(r'name="text"[^>]*>\s*</textarea>', page)


def test_the_example_is_served_as_json_that_no_browser_sniffs(client):
    with client.get("/example.json") as response:
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.get_data() == EXAMPLE.read_bytes()
        assert len(parse_upload(json.loads(response.get_data())).students) > 1


def test_the_example_submits_as_it_is(app, client):
    response = submit_form(client, text=EXAMPLE.read_text(encoding="utf-8"), formats=["csv"])
    assert response.status_code == 303
