"""Q labels and event order: what a teacher reads in every report."""
from reportgen.domain.sequencing import sequence_response
from reportgen.domain.submission import parse_submission


def sequence(document) -> dict:
    return sequence_response(parse_submission(document))


def units(*values):
    return [{"unit": v} for v in values]


def test_units_are_ordered_numerically_then_as_text():
    body = sequence({"student_id": "s", "namespace": "n", "events": units("b", 10, "9", "a", 100, "-1")})
    assert body["namespaces"]["n"]["units"] == {"Q1": "-1", "Q2": "9", "Q3": "10", "Q4": "100", "Q5": "a", "Q6": "b"}


def test_integer_and_digit_string_are_the_same_unit():
    body = sequence({"student_id": "s", "events": units(17, "17", 5)})
    assert body["namespaces"][""]["units"] == {"Q1": "5", "Q2": "17"}
    assert body["students"][0]["sequence"] == ["Q2", "Q2", "Q1"]


def test_labels_are_shared_across_the_students_of_a_namespace():
    body = sequence([
        {"student_id": "a", "namespace": "n", "events": units(30)},
        {"student_id": "b", "namespace": "n", "events": units(10, 20)},
        {"student_id": "c", "namespace": "m", "events": units(30)},
    ])
    assert body["namespaces"]["n"]["units"] == {"Q1": "10", "Q2": "20", "Q3": "30"}
    assert body["namespaces"]["m"]["units"] == {"Q1": "30"}
    assert [s["sequence"] for s in body["students"]] == [["Q3"], ["Q1", "Q2"], ["Q1"]]


def test_events_are_ordered_by_instant_honouring_offsets():
    body = sequence({"student_id": "s", "events": [
        {"unit": 1, "created_time": "2024-07-21T04:00:00+00:00"},
        {"unit": 2, "created_time": "2024-07-21T05:30:00+02:00"},
        {"unit": 3, "created_time": "2024-07-21 03:45:00"},
    ]})
    assert body["students"][0]["sequence"] == ["Q2", "Q3", "Q1"]


def test_ties_keep_input_order_and_untimed_events_come_last():
    body = sequence({"student_id": "s", "events": [
        {"unit": 4},
        {"unit": 3, "created_time": "2024-07-21T03:00:00Z"},
        {"unit": 1, "created_time": "2024-07-21T05:00:00+02:00"},
        {"unit": 2},
        {"unit": 5, "created_time": "2024-07-21T02:00:00Z"},
    ]})
    assert body["students"][0]["sequence"] == ["Q5", "Q3", "Q1", "Q4", "Q2"]


def test_the_example_from_the_product_description():
    times = ["2024-07-21 03:00:00", "2024-07-21 03:01:00", "2024-07-21 03:02:00", "2024-07-21 03:03:00",
             "2024-07-21 03:04:00"]
    shuffled = [("5", times[3]), ("3", times[0]), ("7", times[4]), ("3", times[1]), ("4", times[2])]
    body = sequence({"student_id": "s", "events": [{"unit": u, "created_time": t} for u, t in shuffled]})
    assert body["students"][0]["sequence"] == ["Q1", "Q1", "Q2", "Q3", "Q4"]


def test_one_student_rendered_alone_keeps_the_labels_of_the_whole_upload():
    from reportgen.domain.sequencing import sequence_students, unit_labels

    students = parse_submission([
        {"student_id": "a", "events": units(10, 20)},
        {"student_id": "b", "events": units(20, 30)},
    ])
    _, alone = sequence_students(students[1:])
    _, shared = sequence_students(students[1:], unit_labels(students))
    assert alone[0].labels == ["Q1", "Q2"]
    assert shared[0].labels == ["Q2", "Q3"]


def test_sequenced_events_read_as_the_tuple_of_their_items():
    import pytest

    from reportgen.domain.sequencing import SequencedEvent, StudentSequence, sequence_students

    [student] = parse_submission({"student_id": "s", "events": [
        {"unit": 2, "created_time": "2024-07-21T04:00:00Z"},
        {"unit": 1, "created_time": "2024-07-21T03:00:00Z"},
        {"unit": 3},
    ]})
    _, [seq] = sequence_students([student])
    by_time = [student.events[1], student.events[0], student.events[2]]
    items = tuple(SequencedEvent(position, label, event)
                  for position, (label, event) in enumerate(zip(["Q1", "Q2", "Q3"], by_time), start=1))
    assert seq.events == items and items == seq.events and tuple(seq.events) == items
    assert hash(seq.events) == hash(items)
    assert len(seq.events) == 3 and bool(seq.events) and list(seq.events) == list(items)
    assert seq.events[0] == items[0] and seq.events[-1] == items[-1] and seq.events[-3] == items[0]
    assert seq.events[1:] == items[1:] and seq.events[::-2] == items[::-2] and seq.events[5:] == ()
    assert (seq.events[2].position, seq.events[2].label, seq.events[2].event) == (3, "Q3", student.events[2])
    assert seq.labels == ["Q1", "Q2", "Q3"]
    with pytest.raises(IndexError):
        seq.events[3]
    assert StudentSequence(student=student, events=()).labels == []
    assert StudentSequence(student=student, events=items).labels == ["Q1", "Q2", "Q3"]
    assert seq == StudentSequence(student=student, events=items)


def test_order_by_instant_across_offsets_is_the_plain_sort():
    """Several offsets in one student are sorted as UTC datetimes: the same order, ties in
    input order, even at the ends of the accepted range (1900 to 9999 in UTC)."""
    import random
    from datetime import datetime, timedelta, timezone

    from reportgen.domain.sequencing import order_events

    rng = random.Random(5)
    start = datetime(2024, 7, 21, tzinfo=timezone.utc)
    texts = []
    for _ in range(400):
        moment = start + timedelta(minutes=rng.randint(0, 120))  # many equal instants
        zone = timezone(timedelta(minutes=rng.choice([0, 0, 120, -300, 330, -59])))
        text = moment.astimezone(zone).isoformat(sep=rng.choice(" T"))
        texts.append(text.replace("+00:00", "Z") if rng.random() < 0.3 else text)
    texts += ["1900-01-01T01:30:00+01:00", "1900-01-01T00:10:00Z", "9999-12-31T22:30:00-01:00"]  # the accepted ends
    for chosen in (texts[:400], texts):
        [student] = parse_submission({"student_id": "s", "events": [
            {"unit": 1, "created_time": text} for text in chosen] + [{"unit": 2}]})
        expected = sorted(student.events[:-1], key=lambda e: e.created_at) + [student.events[-1]]
        assert order_events(student.events) == expected
