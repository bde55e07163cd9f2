"""Analytics: each definition on a hand-made case small enough to check by eye."""
from datetime import datetime, timedelta, timezone
from fractions import Fraction

from reportgen.domain.analytics import NO_TYPE, Visit, analyse, cohort_json, percentile, percentile_rank, student_json
from reportgen.domain.submission import parse_submission

UTC = timezone.utc
T0 = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def ev(unit, seconds=None, type=None) -> dict:
    """An event ``seconds`` after T0 (untimed when None)."""
    moment = None if seconds is None else (T0 + timedelta(seconds=seconds)).isoformat()
    return {"unit": unit, "created_time": moment, "type": type}


def student(events, sid="s", ns="n") -> dict:
    return {"student_id": sid, "namespace": ns, "events": events}


def analysed(*documents, **options):
    return analyse(parse_submission(list(documents)), **options)


def metrics_of(events, **options):
    return analysed(student(events), **options).students[0].metrics


def unit_rows(metrics) -> dict:
    return {u.unit: (u.label, u.events, u.visits, u.revisits, u.time_on_task_seconds) for u in metrics.units}


# ── visits ─────────────────────────────────────────────────────────────────────


def test_visits_are_runs_and_revisits_are_the_runs_after_the_first():
    m = metrics_of([ev("A", 0), ev("A", 60), ev("B", 120), ev("A", 180), ev("C", 240)])
    assert {u.unit: (u.visits, u.revisits) for u in m.units} == {"A": (2, 1), "B": (1, 0), "C": (1, 0)}
    assert m.revisits == 1
    assert m.runs == (("Q1", 2), ("Q2", 1), ("Q1", 1), ("Q3", 1))
    assert m.compressed_text() == "Q1×2 → Q2 → Q1 → Q3"
    assert m.visits == (
        Visit("Q1", "A", T0, T0 + timedelta(seconds=60), 2, 1),
        Visit("Q2", "B", T0 + timedelta(seconds=120), T0 + timedelta(seconds=120), 1, 3),
        Visit("Q1", "A", T0 + timedelta(seconds=180), T0 + timedelta(seconds=180), 1, 4),
        Visit("Q3", "C", T0 + timedelta(seconds=240), T0 + timedelta(seconds=240), 1, 5),
    )


def test_visits_follow_time_order_not_input_order():
    m = metrics_of([ev(1, 300), ev(2, 0), ev(1, 100), ev(2, 200)])
    assert m.runs == (("Q2", 1), ("Q1", 1), ("Q2", 1), ("Q1", 1))
    assert m.revisits == 2


def test_compressed_text_can_be_cut():
    m = metrics_of([ev(u) for u in (1, 1, 1, 2, 1, 3, 3)])
    assert m.compressed_text() == "Q1×3 → Q2 → Q1 → Q3×2"
    assert m.compressed_text(max_runs=2) == "Q1×3 → Q2 → … (2 more runs)"
    assert m.compressed_text(max_runs=3) == "Q1×3 → Q2 → Q1 → … (1 more run)"
    assert m.compressed_text(max_runs=4) == m.compressed_text(max_runs=40) == m.compressed_text()
    assert metrics_of([]).compressed_text() == ""


# ── time on task ───────────────────────────────────────────────────────────────


def test_a_gap_of_exactly_the_cutoff_counts_and_one_second_more_does_not():
    events = [ev(1, 0), ev(2, 1800), ev(3, 1800 + 1801)]
    m = metrics_of(events)
    assert unit_rows(m) == {"1": ("Q1", 1, 1, 0, 0), "2": ("Q2", 1, 1, 0, 1800), "3": ("Q3", 1, 1, 0, 0)}
    assert m.time_on_task_seconds == 1800
    assert metrics_of(events, idle_cutoff_minutes=31).time_on_task_seconds == 1800 + 1801
    assert metrics_of(events, idle_cutoff_minutes=29).time_on_task_seconds == 0


def test_a_gap_is_credited_to_the_unit_of_the_later_event():
    m = metrics_of([ev("A", 0), ev("B", 600), ev("B", 660), ev("A", 700)])
    assert {u.unit: u.time_on_task_seconds for u in m.units} == {"A": 40, "B": 660}
    assert m.time_on_task_seconds == 700


def test_untimed_events_add_no_time_but_count_as_events_and_visits():
    m = metrics_of([ev("A", 0), ev("B"), ev("A", 300), ev("A")])
    # order: A(0) A(300) then the untimed B, A in input order
    assert m.runs == (("Q1", 2), ("Q2", 1), ("Q1", 1))
    assert unit_rows(m) == {"A": ("Q1", 3, 2, 1, 300), "B": ("Q2", 1, 1, 0, 0)}
    assert m.events == 4 and m.time_on_task_seconds == 300
    assert m.visits[1] == Visit("Q2", "B", None, None, 1, 3)
    assert m.visits[2] == Visit("Q1", "A", None, None, 1, 4)
    b = m.units[1]
    assert (b.first, b.last) == (None, None)
    assert (m.first, m.last) == (T0, T0 + timedelta(seconds=300))


def test_fractions_of_seconds_are_dropped_per_unit_so_units_add_up_to_the_total():
    m = metrics_of([ev("A", 0), ev("B", 0.6), ev("A", 1.2), ev("B", 2.7)])
    assert {u.unit: u.time_on_task_seconds for u in m.units} == {"A": 0, "B": 2}  # 0.6 s; 0.6 + 1.5 s
    assert m.time_on_task_seconds == 2


def test_a_student_without_timed_events():
    m = metrics_of([ev(1), ev(1)])
    assert (m.events, m.unit_count, m.time_on_task_seconds, m.active_days, m.first, m.last) == (2, 1, 0, 0, None, None)


# ── per unit and per student ───────────────────────────────────────────────────


def test_types_are_counted_per_unit_most_frequent_first():
    m = metrics_of([ev(1, 0, "save"), ev(1, 1, "view"), ev(1, 2), ev(1, 3, "save"), ev(2, 4, "view")])
    assert m.units[0].types == {"save": 2, NO_TYPE: 1, "view": 1}
    assert m.units[1].types == {"view": 1}
    assert NO_TYPE == "(no type)"


def test_active_days_are_utc_dates_and_offsets_are_honoured():
    m = metrics_of([
        {"unit": 1, "created_time": "2024-07-01T23:30:00Z"},
        {"unit": 1, "created_time": "2024-07-02T01:00:00+02:00"},  # 2024-07-01 23:00 UTC
        {"unit": 1},
    ])
    assert m.active_days == 1
    assert m.first == datetime(2024, 7, 1, 23, 0, tzinfo=UTC)
    assert m.last == datetime(2024, 7, 1, 23, 30, tzinfo=UTC)
    assert m.time_on_task_seconds == 1800
    later = metrics_of([{"unit": 1, "created_time": "2024-07-01T23:30:00Z"},
                        {"unit": 1, "created_time": "2024-07-02T00:00:00Z"}])
    assert later.active_days == 2


def test_units_are_listed_in_label_number_order():
    m = metrics_of([ev(u, u) for u in (10, 2, 1, 9, 3, 4, 5, 6, 7, 8)])
    assert [u.label for u in m.units] == [f"Q{n}" for n in range(1, 11)]
    ordered = analyse(
        parse_submission([student([ev(u) for u in (1, 2, 3)])]), order={"n": ("3", "absent", "1")},
    ).students[0].metrics
    assert [(u.label, u.unit) for u in ordered.units] == [("Q1", "3"), ("Q3", "1"), ("Q4", "2")]


def test_first_and_last_touch_of_a_unit():
    m = metrics_of([ev(1, 50), ev(2, 10), ev(1, 20), ev(1)])
    one = m.units[0]
    assert (one.first, one.last) == (T0 + timedelta(seconds=20), T0 + timedelta(seconds=50))


# ── the cohort ─────────────────────────────────────────────────────────────────


def test_percentiles_interpolate_like_numpy():
    assert [percentile([1, 2, 3, 4, 5], p) for p in (15, 50, 85)] == [Fraction(8, 5), 3, Fraction(22, 5)]
    assert [percentile([7], p) for p in (15, 50, 85)] == [7, 7, 7]
    assert [percentile([10, 20], p) for p in (15, 50, 85)] == [Fraction(23, 2), 15, Fraction(37, 2)]
    days = [T0, T0 + timedelta(days=10)]
    assert percentile(days, 85) == T0 + timedelta(days=8.5)


def test_cohort_of_one_and_of_two_students():
    one = analysed(student([ev(1, 0), ev(1, 60)]))
    cohort = one.cohorts["n"]
    assert (cohort.students, cohort.events.p15, cohort.events.median, cohort.events.p85) == (1, 2, 2, 2)
    assert cohort.time_on_task_seconds.median == 60
    assert one.students[0].percentile_ranks == {"events": 50, "time_on_task": 50, "revisits": 50}
    two = analysed(student([ev(1, 0), ev(1, 60)], "a"), student([ev(1, 0), ev(1, 61), ev(2), ev(1)], "b"))
    assert cohort_json(two.cohorts["n"]) == {
        "namespace": "n",
        "students": 2,
        "events": {"p15": 2.3, "median": 3, "p85": 3.7},
        "time_on_task_seconds": {"p15": 60, "median": 61, "p85": 61},  # 60.15, 60.5, 60.85, halves up
        "revisits": {"p15": 0.15, "median": 0.5, "p85": 0.85},
        "saves_per_submission_median": None,
        "units": [
            {"label": "Q1", "unit": "1", "students": 2, "median_time_seconds": 61, "returned": 1, "revisits": 1,
             "saves": 0, "submissions": 0, "saves_per_submission": None},
            {"label": "Q2", "unit": "2", "students": 1, "median_time_seconds": 0, "returned": 0, "revisits": 0,
             "saves": 0, "submissions": 0, "saves_per_submission": None},
        ],
        "hardest_unit": None,
        "flag_thresholds": {},
    }
    assert two.cohorts["n"].time_on_task_seconds.median == 60.5


def test_percentile_ranks_count_ties_as_half():
    assert [percentile_rank([1, 2, 2, 3], v) for v in (1, 2, 3)] == [13, 50, 88]
    upload = analysed(*(student([ev(1)] * n, f"s{n}{i}") for i, n in enumerate((1, 2, 2, 3))))
    assert [s.percentile_ranks["events"] for s in upload.students] == [13, 50, 50, 88]
    assert [s.percentile_ranks["time_on_task"] for s in upload.students] == [50, 50, 50, 50]


def test_each_namespace_is_its_own_cohort_and_upload_order_is_kept():
    upload = analysed(
        student([ev(1)] * 3, "a", "x"), student([ev(1)], "b", "y"), student([ev(1)], "c", "x"),
    )
    assert [(s.namespace, s.student_id) for s in upload.students] == [("x", "a"), ("y", "b"), ("x", "c")]
    assert list(upload.cohorts) == ["x", "y"]
    assert (upload.cohorts["x"].students, upload.cohorts["x"].events.median) == (2, 2)
    assert upload.cohorts["y"].events.median == 1
    assert upload.student("x", "c").percentile_ranks["events"] == 25


# ── JSON ───────────────────────────────────────────────────────────────────────


def test_student_json_shape():
    upload = analysed(student([ev(2, 0, "save"), ev(1, 90), ev(2, 100, "submit"), ev(2)], "s1"))
    assert student_json(upload.students[0]) == {
        "student_id": "s1",
        "namespace": "n",
        "metrics": {
            "events": 4,
            "units": [
                {"label": "Q1", "unit": "1", "events": 1, "types": {NO_TYPE: 1}, "visits": 1, "revisits": 0,
                 "time_on_task_seconds": 90, "first": "2024-07-01T09:01:30Z", "last": "2024-07-01T09:01:30Z"},
                {"label": "Q2", "unit": "2", "events": 3, "types": {NO_TYPE: 1, "save": 1, "submit": 1},
                 "visits": 2, "revisits": 1, "time_on_task_seconds": 10,
                 "first": "2024-07-01T09:00:00Z", "last": "2024-07-01T09:01:40Z"},
            ],
            "unit_count": 2,
            "time_on_task_seconds": 100,
            "active_days": 1,
            "first": "2024-07-01T09:00:00Z",
            "last": "2024-07-01T09:01:40Z",
            "revisits": 1,
            "sequence_compressed": "Q2 → Q1 → Q2×2",
            "runs": [["Q2", 1], ["Q1", 1], ["Q2", 2]],
            "percentile_ranks": {"events": 50, "time_on_task": 50, "revisits": 50},
            "flags": [],
            "distance": 0.0,
        },
    }
    assert upload.cohorts["n"].saves_per_submission_median == 1.0
