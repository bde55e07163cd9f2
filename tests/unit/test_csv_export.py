"""The CSV a spreadsheet user opens: rows in sequence order, no live formulas."""
import csv
import io

from reportgen.domain.csv_export import HEADER, render_csv
from reportgen.domain.submission import parse_submission


def rows(document) -> list[list[str]]:
    return list(csv.reader(io.StringIO(render_csv(parse_submission(document)).decode("utf-8"))))


def test_one_row_per_event_in_sequence_order_with_iso_utc_times():
    table = rows([
        {"student_id": "Zoë", "namespace": "n", "events": [
            {"unit": 10, "type": "saved_code", "created_time": "2024-07-21 05:04:55.939+02:00"},
            {"unit": "9", "type": "ran", "created_time": "2024-07-21T03:00:00Z"},
            {"unit": "9"},
        ]},
        {"student_id": "b", "namespace": "n", "events": [{"unit": 11, "created_time": "2024-07-21 01:00:00"}]},
    ])
    assert tuple(table[0]) == HEADER
    assert table[1:] == [
        ["Zoë", "n", "1", "2024-07-21T03:00:00.000Z", "ran", "9", "Q1"],
        ["Zoë", "n", "2", "2024-07-21T03:04:55.939Z", "saved_code", "10", "Q2"],
        ["Zoë", "n", "3", "", "", "9", "Q1"],
        ["b", "n", "1", "2024-07-21T01:00:00.000Z", "", "11", "Q3"],
    ]


def test_formula_cells_are_neutralised():
    table = rows({"student_id": "=HYPERLINK(\"http://evil\")", "namespace": "+ns",
                  "events": [{"unit": "@SUM(A1)", "type": "-2+3"}, {"unit": -1, "type": "\tcmd"}]})
    assert table[1][:2] == ["'=HYPERLINK(\"http://evil\")", "'+ns"]
    assert (table[1][4], table[1][5], table[1][6]) == ("'-2+3", "'@SUM(A1)", "Q2")
    assert (table[2][4], table[2][5], table[2][6]) == ("'\tcmd", "'-1", "Q1")


def test_bytes_are_utf8_with_crlf_rows():
    data = render_csv(parse_submission({"student_id": "Дмитрий", "events": [{"unit": 1}]}))
    assert data.startswith(b"student_id,namespace,position,created_time,type,unit,label\r\n")
    assert "Дмитрий".encode("utf-8") in data
