"""How a cohort is cut into jobs."""
from reportgen.domain.batching import MAX_EVENTS_PER_PIECE, MAX_PIECES, piece_rows, plan_chunks, plan_pieces


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


def test_a_student_within_the_budget_is_one_piece():
    assert plan_pieces(MAX_EVENTS_PER_PIECE) == 1
    assert plan_pieces(50_000, weigh_events=False) == 1


def test_a_long_event_log_is_cut_into_even_runs_that_cover_every_row_once():
    pieces = plan_pieces(4500, max_events=2000)
    assert pieces == 3
    runs = [piece_rows(4500, piece, pieces) for piece in range(pieces)]
    assert runs == [(0, 1500), (1500, 3000), (3000, 4500)]


def test_a_huge_student_gets_longer_pieces_not_more_of_them():
    pieces = plan_pieces(274_000)
    assert pieces == MAX_PIECES
    runs = [piece_rows(274_000, piece, pieces) for piece in range(pieces)]
    assert runs[0][0] == 0 and runs[-1][1] == 274_000
    assert all(stop == start for (_, stop), (start, _) in zip(runs, runs[1:]))
