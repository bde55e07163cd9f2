"""What error tracking's ``before_send`` (:func:`reportgen.ops.errortracking.scrub`) lets through:
an event as sentry-sdk builds it for a failed upload, full of the student's and the teacher's
data, leaves with none of it. (tests/integration/test_error_tracking.py sends a real job's error
to a real envelope receiver; this shows that the scrubbing is what keeps the data out.)"""
import json

from reportgen.ops.errortracking import scrub

STUDENT = "s-0042-ada"
TEACHER = "teacher@school.example"


def personal_event() -> dict:
    return {
        "user": {"email": TEACHER, "ip_address": "203.0.113.9"},
        "request": {"url": "https://reports.example/assignment/pdf", "method": "POST",
                    "data": json.dumps([{"student_id": STUDENT, "events": []}]), "cookies": {"session": "x"},
                    "query_string": f"student={STUDENT}", "env": {"REMOTE_ADDR": "203.0.113.9"},
                    "headers": {"Content-Type": "application/json", "Authorization": "Bearer secret-token",
                                "Cookie": "session=x", "X-Request-ID": "req-1"}},
        "exception": {"values": [{"type": "DataError", "value": f"invalid input for {STUDENT!r} from {TEACHER}",
                                  "stacktrace": {"frames": [{"function": "render", "vars": {"student": STUDENT}}]}}]},
        "logentry": {"message": "report for %s failed", "params": [STUDENT]},
        "breadcrumbs": {"values": [{"message": f"mail to {TEACHER}"}]},
    }


def test_an_event_full_of_personal_data_leaves_with_none_of_it():
    event = personal_event()
    assert STUDENT in json.dumps(event) and TEACHER in json.dumps(event)  # the control: it was there
    sent = json.dumps(scrub(event, {}))
    assert STUDENT not in sent and TEACHER not in sent and "secret-token" not in sent
    assert "203.0.113.9" not in sent and "session=x" not in sent


def test_what_helps_an_operator_stays():
    sent = scrub(personal_event(), {})
    assert sent["request"]["headers"] == {"Content-Type": "application/json", "X-Request-ID": "req-1"}
    assert sent["exception"]["values"][0]["type"] == "DataError"
    assert sent["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] == "render"


def test_the_fixed_text_errors_handed_to_rq_are_not_sent_twice():
    class JobFailed(Exception):
        pass

    error = JobFailed("unexpected DataError")
    assert scrub(personal_event(), {"exc_info": (JobFailed, error, None)}) is None
