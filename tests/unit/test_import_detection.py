"""Which format an upload is in, from its first kilobytes: every real fixture is recognised,
reportgen's own JSON and CSV stay reportgen's, and a client's choice wins."""
import json
from pathlib import Path

import pytest

from reportgen.domain.importers import choose, detect
from reportgen.domain.importers.detect import HEAD_BYTES

from ..support import class_forms

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ROOT = FIXTURES.parent.parent


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/**/*.json")) + sorted(FIXTURES.glob("moodle/*.csv")),
                         ids=lambda path: str(path.relative_to(FIXTURES)))
def test_every_public_fixture_is_recognised(path):
    assert detect(path.read_bytes()) == path.relative_to(FIXTURES).parts[0]


@pytest.mark.parametrize("body", [
    (ROOT / "examples" / "students.json").read_bytes(),
    (ROOT / "examples" / "students.csv").read_bytes(),
    json.dumps({"students": [], "email": ["a@example.org"]}),
    json.dumps({"events": [{"unit": 1}] * 2000, "student_id": "late"}),
    "\ufeff student_id;unit\ns1;1\n",
    "", "   ", "[]", "{}", "no idea",
])
def test_reportgens_own_uploads_and_unknown_text_are_reportgens(body):
    assert detect(body) == "reportgen"


def test_xapi_caliper_and_moodle_in_their_usual_shapes():
    assert detect(json.dumps({"statements": [], "more": ""})) == "xapi"
    assert detect("\n".join(json.dumps(s) for s in class_forms.as_xapi()[:3])) == "xapi"
    assert detect(json.dumps(class_forms.as_caliper()["data"])) == "caliper"
    german = "Zeit,Name\n\"21.07.24, 03:04:55\",Amira,\"The user with id '5' viewed the course with id '2'.\"\n"
    assert detect(german.encode()) == "moodle"


def test_only_the_head_is_looked_at():
    body = b"[" + b" " * HEAD_BYTES + json.dumps(class_forms.as_xapi()).encode() + b"]"
    assert detect(body) == "reportgen"


def test_a_requested_format_wins_and_auto_detects():
    body = class_forms.encoded(class_forms.as_xapi())
    assert choose(body, "caliper") == "caliper"
    assert choose(body, "auto") == choose(body, None) == choose(body, "") == "xapi"
    with pytest.raises(ValueError, match="must be one of auto, reportgen, xapi, moodle, caliper, not 'csv'"):
        choose(body, "csv")
