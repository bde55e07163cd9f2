"""Split a submission into chunks of students that workers render in parallel."""
from __future__ import annotations

from collections.abc import Sequence

MAX_EVENTS_PER_CHUNK = 2000
MAX_STUDENTS_PER_CHUNK = 20
#: Without the event log a student's pages cost ~15 ms whatever their events, so chunks can
#: be larger: fewer documents (each has a fixed cost) and fewer parts to merge.
MAX_SUMMARY_STUDENTS_PER_CHUNK = 50


def plan_chunks(event_counts: Sequence[int], *, weigh_events: bool = True,
                max_events: int = MAX_EVENTS_PER_CHUNK, max_students: int | None = None) -> list[int]:
    """The chunk number of every student, in order.

    A chunk closes when it holds ``max_students`` students or, when events are what costs
    (``weigh_events``: a PDF with its event log), adding the next student would take it over
    ``max_events`` events (a student larger than that gets a chunk alone), so jobs stay
    similar in size and many workers share a large cohort evenly. Without the event log a
    student's pages cost about the same whatever their number of events.
    """
    if max_students is None:
        max_students = MAX_STUDENTS_PER_CHUNK if weigh_events else MAX_SUMMARY_STUDENTS_PER_CHUNK
    chunks: list[int] = []
    chunk, students, events = 0, 0, 0
    for count in event_counts:
        full = students >= max_students or (weigh_events and events + count > max_events)
        if students and full:
            chunk, students, events = chunk + 1, 0, 0
        chunks.append(chunk)
        students += 1
        events += count
    return chunks


#: A PDF event log prints ~0.2 ms a row (``bench/report_bench.py``): a log longer than this
#: (close to a second of one worker's time) is cut into pieces for several workers.
MAX_EVENTS_PER_PIECE = 4000
#: A student's event log is cut into at most this many pieces: every piece reads and orders
#: the student's whole input again (~2 µs an event, against ~200 µs for each row it prints),
#: so that overhead is about ``pieces`` percent of the work; a huge student's pieces grow
#: rather than multiply.
MAX_PIECES = 20


def plan_pieces(event_count: int, *, weigh_events: bool = True, max_events: int = MAX_EVENTS_PER_PIECE) -> int:
    """Into how many pieces one student's document is cut, each a job of its own.

    Only an event log that costs by its lines (``weigh_events``) and is longer than
    ``max_events`` is cut (such a student is alone in its chunk, see :func:`plan_chunks`): the first piece holds the student's pages and the first rows of
    the log, each further piece a run of rows, so several workers share one large student.
    """
    if not weigh_events or event_count <= max_events:
        return 1
    return min(MAX_PIECES, -(-event_count // max_events))


def piece_rows(event_count: int, piece: int, pieces: int) -> tuple[int, int]:
    """The event-log rows ``[start, stop)`` that piece ``piece`` of ``pieces`` prints (even runs)."""
    size = -(-event_count // pieces)
    return min(event_count, piece * size), min(event_count, (piece + 1) * size)
