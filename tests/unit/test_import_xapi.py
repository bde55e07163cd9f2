"""xAPI statements in: the specification's examples, the Moodle xAPI log store's and Open edX's
statements, the mapping rules of issue 21, and hostile files that must end in a clear error."""
import json
import tracemalloc
from pathlib import Path

import pytest

from reportgen.domain.importers import ImportOptions, read_imported
from reportgen.domain.importers.xapi import read_xapi
from reportgen.domain.plain_words import in_plain_words
from reportgen.domain.submission import MAX_PROBLEMS, MalformedJSON, SubmissionError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "xapi"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def statement(actor=None, verb="http://adlnet.gov/expapi/verbs/completed", unit="https://example.org/act/1",
              **extra) -> dict:
    made = {"actor": actor if actor is not None else {"mbox": "mailto:ana@example.org"},
            "verb": {"id": verb} if isinstance(verb, str) else verb,
            "object": {"id": unit} if isinstance(unit, str) else unit}
    made.update(extra)
    return made


def read(statements, **options):
    return read_xapi(json.dumps(statements), ImportOptions(**options))


def events(imported) -> list[tuple]:
    return [(s["student_id"], s["namespace"], e["unit"], e["type"], e["created_time"])
            for s in imported.students for e in s["events"]]


# --- real documents --------------------------------------------------------------------------

def test_the_specifications_example_statements_are_read_and_the_group_one_is_skipped():
    imported = read_xapi(fixture("spec_appendix_a.json"))
    assert events(imported) == [
        ("user@example.com", "", "http://example.com/xapi/activity/simplestatement", "sent",
         "2015-11-18T12:17:00+00:00"),
        ("example.learner@adlnet.gov", "", "http://example.adlnet.gov/xapi/example/simpleCBT", "attempted",
         "2015-12-18T12:17:00+00:00"),
    ]
    assert imported.summary() == {"format": "xapi", "records": "statements", "read": 3, "used": 2, "skipped": 1,
                                  "skipped_because": {"a group as actor": 1}}
    assert imported.unit_names[""]["http://example.adlnet.gov/xapi/example/simpleCBT"] == "simple CBT course"
    assert imported.student_names[""]["user@example.com"] == "Project Tin Can API"
    assert [s.student_id for s in imported.upload().students] == ["user@example.com", "example.learner@adlnet.gov"]


def test_the_simplest_statement_is_one_untimed_event():
    imported = read_xapi(fixture("spec_simplest.json"))
    assert events(imported) == [("xapi@adlnet.gov", "", "http://example.adlnet.gov/xapi/example/activity", "created",
                                 None)]
    assert imported.upload().students[0].events[0].created_at is None


def test_the_moodle_log_stores_statements_take_the_course_from_the_grouping():
    imported = read_xapi(json.dumps([*json.loads(fixture("moodle_logstore/attempt_started.json")),
                                     *json.loads(fixture("moodle_logstore/attempt_submitted_truefalse.json")),
                                     *json.loads(fixture("moodle_logstore/course_module_viewed.json"))]))
    course = "http://www.example.org/course/view.php?id=1"
    quiz = "http://www.example.org/mod/quiz/view.php?id=1"
    assert events(imported) == [
        ("1", course, quiz, "started", "2015-06-10T15:31:41+01:00"),
        ("1", course, quiz, "completed", "2015-06-10T15:31:41+01:00"),
        ("1", course, "http://www.example.org/question/question.php?cmid=1&id=1", "answered",
         "2015-06-10T15:31:41+01:00"),
        ("1", course, quiz, "viewed", None),
    ]
    assert imported.unit_names[course] == {quiz: "test_quiz_name",
                                           "http://www.example.org/question/question.php?cmid=1&id=1": "test_question"}
    assert imported.student_names[course] == {"1": "test_fullname"}
    assert imported.unit_order[course] == [quiz, "http://www.example.org/question/question.php?cmid=1&id=1"]


def test_open_edx_statements_a_course_parent_an_openid_and_a_parent_that_is_no_course():
    problem = json.loads(fixture("openedx/problem_check_server.json"))
    navigated = json.loads(fixture("openedx/sequence_next_selected.json"))
    navigated["id"] = "another-id"  # the fixtures share one id; one statement per id is kept
    video = json.loads(fixture("openedx/play_video.json"))
    video["id"] = "a-third-id"
    imported = read_xapi(json.dumps([problem, navigated, video]), ImportOptions(namespace="demo"))
    course = "http://localhost:18000/course/course-v1:edX+DemoX+Demo_Course"
    assert [(s["student_id"], s["namespace"], len(s["events"])) for s in imported.students] == [
        ("32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb", course, 2),
        ("https://openedx.org/users/user-v1/32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb", "demo", 1),
    ]
    assert [e["type"] for s in imported.students for e in s["events"]] == ["evaluated", "navigated", "played"]
    assert imported.unit_names == {"demo": {
        "block-v1:course-v1:edX+DemoX+Demo_Course+type@video+block@0b9e39477cf34507a7a48f74be381fdd":
            "Video Display Name"}}


def test_the_open_edx_fixtures_that_share_an_id_count_once():
    body = json.dumps([json.loads(fixture("openedx/problem_check_server.json")),
                       json.loads(fixture("openedx/sequence_next_selected.json"))])
    imported = read_xapi(body)
    assert imported.used == 1
    assert imported.skipped == {"a duplicate of an earlier statement (the same id)": 1}


def test_the_voiding_example_removes_the_statement_it_voids_and_itself():
    voided = statement(id="e05aa883-acaf-40ad-bf54-02c8ce485fb0", timestamp="2024-07-21T10:00:00Z")
    kept = statement(id="kept", unit="https://example.org/act/2", timestamp="2024-07-21T10:05:00Z")
    imported = read(voided and [voided, kept, json.loads(fixture("spec_voiding.json"))])
    assert [e[2] for e in events(imported)] == ["https://example.org/act/2"]
    assert imported.skipped == {"voided by another statement": 1, "a voiding statement (it voids another)": 1}
    assert imported.read == 3 and imported.used == 1


# --- the mapping rules -----------------------------------------------------------------------

def test_the_actor_is_named_by_account_then_mbox_then_sha1sum_then_openid():
    imported = read([
        statement({"account": {"homePage": "https://lms.example.org", "name": "u7"}, "mbox": "mailto:x@example.org"}),
        statement({"mbox": "mailto:ana@example.org", "openid": "https://id.example.org/ana"}),
        statement({"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9", "openid": "https://id.example.org/z"}),
        statement({"openid": "https://id.example.org/bo"}),
    ])
    assert [s["student_id"] for s in imported.students] == [
        "u7", "ana@example.org", "ebd31e95054c018b10727ccffd2ef2ec3a016ee9", "https://id.example.org/bo"]


def test_accounts_on_two_home_pages_are_scoped_by_their_home_page():
    imported = read([statement({"account": {"homePage": "https://a.example.org", "name": "7"}}),
                     statement({"account": {"homePage": "https://b.example.org", "name": "7"}}),
                     statement({"mbox": "mailto:7@example.org"})])
    assert [s["student_id"] for s in imported.students] == [
        "7 (https://a.example.org)", "7 (https://b.example.org)", "7@example.org"]


def test_the_course_is_the_first_course_activity_among_parents_then_groupings():
    def context(parent=(), grouping=()):
        return {"contextActivities": {"parent": list(parent), "grouping": list(grouping)}}
    course = {"id": "https://lms.example.org/course/1", "definition": {"type": COURSE_TYPE}}
    tincan_course = {"id": "https://lms.example.org/course/2",
                     "definition": {"type": "http://id.tincanapi.com/activitytype/lms/course"}}
    not_a_course = {"id": "https://lms.example.org/section/9", "definition": {"type": "http://example.org/section"}}
    imported = read([
        statement(context=context(parent=[not_a_course], grouping=[tincan_course])),
        statement(context=context(parent=[course], grouping=[tincan_course])),
        statement(context={"contextActivities": {"grouping": course}}),  # a single object, as xAPI 0.95 wrote it
        statement(context=context(parent=[not_a_course])),
        statement(),
    ], namespace="given")
    assert [s["namespace"] for s in imported.students] == [
        "https://lms.example.org/course/2", "https://lms.example.org/course/1", "given"]
    assert [len(s["events"]) for s in imported.students] == [1, 2, 2]


def test_without_a_course_or_a_given_namespace_the_default_namespace_is_used():
    assert read([statement()]).students[0]["namespace"] == ""


@pytest.mark.parametrize("verb, shown", [
    ({"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"de": "abgeschlossen", "en-GB": "completed"}},
     "completed"),
    ({"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "finished", "en": "completed"}},
     "completed"),
    ({"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"fr": "terminé", "de": "abgeschlossen"}},
     "terminé"),
    ({"id": "http://adlnet.gov/expapi/verbs/completed"}, "completed"),
    ({"id": "http://example.com/xapi/verbs#sent-a-statement", "display": {}}, "sent-a-statement"),
    ({"id": "https://w3id.org/xapi/video/verbs/played/", "display": {"en": "  "}}, "played"),
])
def test_the_type_is_the_verbs_display_preferring_english_else_its_ids_last_segment(verb, shown):
    assert read([statement(verb=verb)]).students[0]["events"][0]["type"] == shown


def test_unit_names_come_from_the_definitions_name_preferring_english():
    imported = read([
        statement(unit={"id": "https://example.org/q/1",
                        "definition": {"name": {"fr": "Quiz un", "en-US": "Quiz one"}}}),
        statement(unit={"id": "https://example.org/q/2", "definition": {"name": {"th": "แบบทดสอบสอง"}}}),
        statement(unit={"id": "https://example.org/q/3", "definition": {"description": {"en": "no name"}}}),
    ])
    assert imported.unit_names == {"": {"https://example.org/q/1": "Quiz one",
                                        "https://example.org/q/2": "แบบทดสอบสอง"}}


def test_the_time_is_the_timestamp_else_stored_else_none():
    imported = read([statement(timestamp="2024-07-21T10:00:00.123+02:00", stored="2024-07-22T00:00:00Z"),
                     statement(stored="2024-07-22T00:00:00Z"), statement()])
    assert [e["created_time"] for e in imported.students[0]["events"]] == [
        "2024-07-21T10:00:00.123+02:00", "2024-07-22T00:00:00Z", None]


def test_units_are_ordered_by_their_first_appearance_in_time_unless_the_options_order_them():
    imported = read([statement(unit="https://example.org/z", timestamp="2024-07-21T10:00:00Z"),
                     statement(unit="https://example.org/a", timestamp="2024-07-21T09:00:00Z"),
                     statement(unit="https://example.org/m")])
    assert imported.unit_order == {"": ["https://example.org/a", "https://example.org/z", "https://example.org/m"]}
    assert imported.upload().options.units == {"": ("https://example.org/a", "https://example.org/z",
                                                    "https://example.org/m")}
    own = {"units": {"": ["https://example.org/m"]}}
    assert imported.upload(options=own).options.units == {"": ("https://example.org/m",)}


def test_objects_that_are_not_activities_are_skipped_and_counted():
    imported = read([statement(unit={"objectType": "Agent", "mbox": "mailto:bo@example.org"}),
                     statement(unit={"objectType": "StatementRef", "id": "abc"}), statement()])
    assert imported.used == 1
    assert imported.skipped == {"the object is an Agent, not an activity": 1,
                                "the object is a statement reference, not an activity": 1}


@pytest.mark.parametrize("wrap", [
    lambda statements: json.dumps({"statements": statements, "more": "/xapi/statements?more=2"}),
    lambda statements: "\n".join(json.dumps(s) for s in statements) + "\n",
    lambda statements: "\ufeff" + json.dumps(statements),
])
def test_a_statement_result_json_lines_and_a_byte_order_mark_are_read(wrap):
    statements = [statement(timestamp="2024-07-21T10:00:00Z"), statement(unit="https://example.org/act/2")]
    assert len(events(read_xapi(wrap(statements)))) == 2


def test_one_statement_alone_is_read():
    assert len(events(read_xapi(json.dumps(statement())))) == 1


# --- errors ----------------------------------------------------------------------------------

def test_a_statement_without_an_actor_identifier_is_named_by_its_number():
    statements = [statement() for _ in range(11)] + [statement(actor={"name": "Somebody"})]
    with pytest.raises(SubmissionError) as caught:
        read(statements)
    assert caught.value.details == {"statement 12": "the actor has no account, mbox, mbox_sha1sum or openid"}
    assert in_plain_words(caught.value.details) == ["Statement 12: the actor has no account, mbox, mbox_sha1sum or "
                                                    "openid"]


def test_in_json_lines_a_statement_is_numbered_by_its_line():
    lines = [json.dumps(statement()), "", json.dumps(statement(verb={"display": {"en": "x"}}))]
    with pytest.raises(SubmissionError) as caught:
        read_xapi("\n".join(lines))
    assert caught.value.details == {"statement 3": "the verb id must be non-empty text, not null"}


def test_a_broken_json_line_is_named_by_its_line():
    with pytest.raises(SubmissionError) as caught:
        read_xapi(json.dumps(statement()) + "\n" + '{"actor": }\n')
    assert list(caught.value.details) == ["line 2"]


@pytest.mark.parametrize("broken, problem", [
    ({"verb": {"id": "v"}, "object": {"id": "o"}}, "the actor is missing"),
    (statement(actor="ana"), "the actor must be an object, not a string"),
    (statement(actor={"account": {"homePage": "https://x.example.org"}}),
     "the actor's account name must be non-empty text, not null"),
    ({"actor": {"mbox": "mailto:a@b"}, "object": {"id": "o"}}, "the verb is missing"),
    ({"actor": {"mbox": "mailto:a@b"}, "verb": {"id": "v"}}, "the object is missing"),
    (statement(unit={"definition": {}}), "the object id must be non-empty text, not null"),
    (statement(timestamp="yesterday"),
     "the timestamp 'yesterday' is not an ISO 8601 date-time (e.g. 2024-07-21T03:04:55.939Z)"),
    (statement(timestamp="0000-01-01T00:00:00Z"),
     "the timestamp '0000-01-01T00:00:00Z' is not an ISO 8601 date-time (e.g. 2024-07-21T03:04:55.939Z)"),
    (statement(timestamp="99999-01-01T00:00:00Z"),
     "the timestamp '99999-01-01T00:00:00Z' is not an ISO 8601 date-time (e.g. 2024-07-21T03:04:55.939Z)"),
    (statement(timestamp="1066-10-14T09:00:00Z"),
     "the timestamp '1066-10-14T09:00:00Z' is outside the times reports can show: "
     "1900-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"),
    (statement(unit="https://example.org/\u0000"), "the object id contains a NUL character (\\u0000), which cannot "
                                                   "be stored; remove it"),
    (17, "must be an object (a statement), not a number"),
])
def test_a_statement_that_cannot_be_read_is_a_clear_error(broken, problem):
    with pytest.raises(SubmissionError) as caught:
        read([statement(), broken])
    assert caught.value.details == {"statement 2": problem}


def test_a_file_that_is_no_statement_at_all_is_a_clear_error():
    with pytest.raises(SubmissionError) as caught:
        read_xapi("42")
    assert caught.value.details == {"$": "must be a statement, an array of statements, a StatementResult or JSON "
                                         "Lines, not a number"}


def test_a_file_whose_statements_are_all_skipped_says_so_with_the_counts():
    group = {"objectType": "Group", "member": [{"mbox": "mailto:a@example.org"}]}
    imported = read([statement(actor=group), statement(actor=group)])
    with pytest.raises(SubmissionError) as caught:
        imported.upload()
    assert caught.value.details == {"$": "None of the 2 statements could be used, so there is nothing to report on; "
                                         "skipped: a group as actor: 2"}


def test_problems_the_format_finds_are_named_by_statement_and_field():
    imported = read([statement(), statement(verb={"id": "v", "display": {"en": "x" * 10}})])
    imported.students[0]["events"][1]["type"] = 5  # what parse_upload refuses, named by where it came from
    with pytest.raises(SubmissionError) as caught:
        imported.upload()
    assert caught.value.details == {"statement 2, field verb": "must be a string, not a number"}


# --- hostile input ---------------------------------------------------------------------------

def test_a_statement_nested_ten_thousand_deep_is_malformed_json_not_a_crash():
    deep = '{"actor": ' + '{"a": ' * 10_000 + "1" + "}" * 10_000 + "}"
    for body in (deep, "[" + deep + "]", deep + "\n" + deep):
        with pytest.raises(MalformedJSON) as caught:
            read_xapi(body)
        assert "nested too deeply" in caught.value.details["$"]


def test_two_hundred_thousand_statements_without_actors_are_one_bounded_error():
    body = "[" + ",".join(['{"verb":{"id":"v"},"object":{"id":"o"}}'] * 200_000) + "]"
    tracemalloc.start()
    try:
        with pytest.raises(SubmissionError) as caught:
            read_xapi(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(caught.value.details) == MAX_PROBLEMS and caught.value.not_shown == 200_000 - MAX_PROBLEMS
    assert caught.value.message == "invalid xAPI statements: 200000 problems"
    assert in_plain_words(caught.value.details, not_shown=caught.value.not_shown) == [
        "Statements 1–100: the actor is missing (100 times)", "… and 199,900 more problems not listed here."]
    assert peak < 300 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_latin_1_bytes_are_malformed_json_saying_where():
    body = json.dumps([statement(actor={"mbox": "mailto:jose@example.org", "name": "José"})],
                      ensure_ascii=False).encode("latin-1")
    with pytest.raises(MalformedJSON) as caught:
        read_imported(body, "xapi")
    assert caught.value.details["$"].startswith("not UTF-8 (invalid continuation byte): save the file as UTF-8 at "
                                                "line 1")


def test_a_byte_order_mark_in_bytes_is_read():
    body = b"\xef\xbb\xbf" + json.dumps([statement()]).encode()
    assert read_imported(body, "xapi").used == 1


def test_the_summary_of_an_import_holds_counts_and_fixed_reasons_never_the_data():
    secret = {"objectType": "Group", "name": "Secret Team", "mbox": "mailto:secret@example.org"}
    imported = read([statement(actor=secret), statement(actor={"mbox": "mailto:kim@example.org"})])
    summary = json.dumps(imported.summary())
    assert "Secret" not in summary and "secret@" not in summary and "kim@" not in summary
    assert imported.summary()["skipped_because"] == {"a group as actor": 1}
