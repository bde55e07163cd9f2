"""Label units ``Q1, Q2, …`` per namespace and order each student's events in time."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .submission import Event, Student, unit_sort_key

@dataclass(frozen=True, slots=True)
class SequencedEvent:
    position: int
    label: str
    event: Event

@dataclass(frozen=True, slots=True)
class StudentSequence:
    student: Student
    events: tuple[SequencedEvent, ...]

    @property
    def labels(self) -> list[str]:
        return [item.label for item in self.events]

def unit_labels(
    students: list[Student], order: Mapping[str, Sequence[str]] | None = None
) -> dict[str, dict[str, str]]:
    """namespace → {unit → label}: every student of one upload shares the labels.

    Without ``order`` units are numbered in :func:`unit_sort_key` order. ``order`` (the
    ``units`` report option: namespace → canonical units) fixes a namespace's numbering: its k
    listed units are ``Q1 … Qk`` in list order, whether or not the upload has them, and the
    upload's other units follow as ``Qk+1 …`` in :func:`unit_sort_key` order. Only units that
    occur in the upload get an entry, so numbers may have gaps; each mapping is in label order.
    """
    units: dict[str, set[str]] = defaultdict(set)
    for student in students:
        units[student.namespace].update(event.unit for event in student.events)
    labels: dict[str, dict[str, str]] = {}
    for namespace, found in units.items():
        listed = list(dict.fromkeys(order.get(namespace, ()))) if order else []
        mapping = {unit: f"Q{number}" for number, unit in enumerate(listed, start=1) if unit in found}
        rest = sorted(found.difference(listed), key=unit_sort_key)
        mapping.update((unit, f"Q{number}") for number, unit in enumerate(rest, start=len(listed) + 1))
        labels[namespace] = mapping
    return labels


def order_events(events: tuple[Event, ...]) -> list[Event]:
    """Timed events by instant (offsets honoured, ties stable), then untimed in input order."""
    timed = sorted((e for e in events if e.created_at is not None), key=lambda e: e.created_at)
    untimed = [e for e in events if e.created_at is None]
    return timed + untimed


def sequence_students(
    students: list[Student],
    labels: dict[str, dict[str, str]] | None = None,
    order: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, dict[str, str]], list[StudentSequence]]:
    """The labels (computed unless given, e.g. a whole upload's for one of its students) and,
    per student, the events in time order with their labels. ``order`` is passed to
    :func:`unit_labels` and so only matters when ``labels`` is not given."""
    if labels is None:
        labels = unit_labels(students, order)
    sequences = []
    for student in students:
        namespace_labels = labels[student.namespace]
        sequences.append(
            StudentSequence(
                student=student,
                events=tuple(
                    SequencedEvent(position=position, label=namespace_labels[event.unit], event=event)
                    for position, event in enumerate(order_events(student.events), start=1)
                ),
            )
        )
    return labels, sequences


def sequence_response(students: list[Student], labels: dict[str, dict[str, str]] | None = None) -> dict:
    """The body of ``POST /assignment/sequence``."""
    labels, sequences = sequence_students(students, labels)
    return {
        "namespaces": {
            namespace: {"units": {label: unit for unit, label in mapping.items()}}
            for namespace, mapping in labels.items()
        },
        "students": [
            {
                "student_id": seq.student.student_id,
                "namespace": seq.student.namespace,
                "sequence": seq.labels,
            }
            for seq in sequences
        ],
    }
