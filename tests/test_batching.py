"""How a cohort is cut into jobs."""
from reportgen.domain.batching import plan_chunks


def test_small_uploads_are_one_chunk():
    assert plan_chunks([150] * 5) == [0] * 5


def test_chunks_close_on_student_count():
    assert plan_chunks([1] * 7, max_students=3) == [0, 0, 0, 1, 1, 1, 2]


def test_chunks_close_on_event_budget_and_big_students_go_alone():
    assert plan_chunks([600, 600, 600, 5000, 10, 10], max_events=1500) == [0, 0, 1, 2, 3, 3]


def test_a_cohort_of_2000_by_100_makes_evenly_sized_jobs():
    chunks = plan_chunks([100] * 2000)
    assert max(chunks) + 1 == 100 and all(chunks.count(n) == 20 for n in range(100))


def test_empty_students_still_get_a_chunk():
    assert plan_chunks([0, 0]) == [0, 0]
