"""The canonical text of a JSON document, which an Idempotency-Key compares (issue 19)."""
import json

from reportgen.domain.canonical_json import ENCODER, canonical_pieces


def test_the_pieces_make_the_whole_documents_canonical_text_whatever_its_spelling():
    document = {"students": [{"student_id": "Zoë", "events": [{"unit": 1, "type": None}], "namespace": "مدرسة"}],
                "options": {"window": {"to": "2024-07-31", "from": "2024-07-01"}}, "label": "A\u2028B"}
    respelled = json.loads(json.dumps(dict(reversed(list(document.items()))), indent=3, ensure_ascii=True))
    assert "".join(canonical_pieces(document)) == ENCODER.encode(document) == "".join(canonical_pieces(respelled))


def test_another_value_is_another_text():
    assert "".join(canonical_pieces([{"unit": 1}])) != "".join(canonical_pieces([{"unit": "1"}]))
