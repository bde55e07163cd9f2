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
