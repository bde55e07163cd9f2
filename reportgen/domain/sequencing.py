"""Label units ``Q1, Q2, …`` per namespace and order each student's events in time."""
from __future__ import annotations

from collections import defaultdict
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

def unit_labels(students: list[Student]) -> dict[str, dict[str, str]]:
    """namespace → {unit → label}: every student of one upload shares the labels."""
    units: dict[str, set[str]] = defaultdict(set)
    for student in students:
        units[student.namespace].update(event.unit for event in student.events)
    return {
        namespace: {
            unit: f"Q{number}"
            for number, unit in enumerate(sorted(found, key=unit_sort_key), start=1)
        }
        for namespace, found in units.items()
    }


def order_events(events: tuple[Event, ...]) -> list[Event]:
    """Timed events by instant (offsets honoured, ties stable), then untimed in input order."""
    timed = sorted((e for e in events if e.created_at is not None), key=lambda e: e.created_at)
    untimed = [e for e in events if e.created_at is None]
    return timed + untimed


def sequence_students(
    students: list[Student], labels: dict[str, dict[str, str]] | None = None
) -> tuple[dict[str, dict[str, str]], list[StudentSequence]]:
    """The labels (computed unless given, e.g. a whole upload's for one of its students) and,
    per student, the events in time order with their labels."""
    if labels is None:
        labels = unit_labels(students)
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
