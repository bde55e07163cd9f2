"""Label units ``Q1, Q2, …`` per namespace and order each student's events in time."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from itertools import count
from operator import attrgetter
from operator import index as as_index
from typing import Any, overload

from .submission import Event, Student, unit_sort_key

_created_at = attrgetter("created_at")
_tzinfo = attrgetter("tzinfo")
_unit = attrgetter("unit")
_label = attrgetter("label")


@dataclass(frozen=True, slots=True)
class SequencedEvent:
    position: int
    label: str
    event: Event


class SequencedEvents(Sequence[SequencedEvent]):
    """A student's events in time order with their labels, read as :class:`SequencedEvent` items
    (1-based ``position``), which are made as they are read; equal to the tuple of those items.

    Not a tuple of items made up front: for a large upload that is a million more objects to
    build, and to be traversed by every full garbage collection while the upload lives (about as
    much again as building them), where most callers want only :attr:`labels` or one pass.
    """

    __slots__ = ("ordered", "labels")

    def __init__(self, ordered: tuple[Event, ...], labels: tuple[str, ...]):
        if len(ordered) != len(labels):
            raise ValueError("one label per event")
        self.ordered = ordered
        self.labels = labels

    def __len__(self) -> int:
        return len(self.ordered)

    def __iter__(self) -> Iterator[SequencedEvent]:
        return map(SequencedEvent, count(1), self.labels, self.ordered)

    @overload
    def __getitem__(self, index: int) -> SequencedEvent: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[SequencedEvent, ...]: ...

    def __getitem__(self, index: Any) -> Any:
        """An item, or a slice of them as a tuple (each keeping its position in the whole)."""
        if isinstance(index, slice):
            picked = range(len(self.ordered))[index]
            return tuple(map(SequencedEvent, [i + 1 for i in picked],
                             map(self.labels.__getitem__, picked), map(self.ordered.__getitem__, picked)))
        i = as_index(index)
        event, label = self.ordered[i], self.labels[i]  # IndexError as a tuple's
        return SequencedEvent(i + 1 if i >= 0 else len(self.ordered) + i + 1, label, event)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SequencedEvents):
            return self.ordered == other.ordered and self.labels == other.labels
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"SequencedEvents({tuple(self)!r})"


@dataclass(frozen=True, slots=True)
class StudentSequence:
    student: Student
    events: Sequence[SequencedEvent]
    """:class:`SequencedEvents` from :func:`sequence_students`; any sequence of items (``()``)."""

    @property
    def labels(self) -> list[str]:
        if isinstance(self.events, SequencedEvents):
            return list(self.events.labels)
        return list(map(_label, self.events))


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
        units[student.namespace].update(map(_unit, student.events))
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
    times = list(map(_created_at, events))
    if None not in times:
        return _by_instant(events, times)
    timed = [e for e in events if e.created_at is not None]
    untimed = [e for e in events if e.created_at is None]
    return _by_instant(timed, list(map(_created_at, timed))) + untimed


def _by_instant(events: Sequence[Event], times: list) -> list[Event]:
    """``events`` stably sorted by ``times``, their (aware) instants.

    Two datetimes with one ``tzinfo`` compare as fast as two numbers; with different ones each
    comparison asks both for their UTC offsets, several times slower. So when a student's times
    carry several fixed offsets (``timezone`` objects: a parsed ``Z``, ``+00:00``, ``+02:00`` …)
    they are sorted as UTC datetimes, which order exactly as the originals.
    """
    zones = set(map(_tzinfo, times))
    if len(zones) > 1 and all(type(zone) is timezone for zone in zones):
        utc = timezone.utc
        try:
            keys = [moment.astimezone(utc) for moment in times]
        except OverflowError:  # within a day of year 1 or 9999: keep the slower comparisons
            keys = times
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return list(map(events.__getitem__, order))
    return sorted(events, key=_created_at)


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
        unit_label = labels[student.namespace].__getitem__
        ordered = tuple(order_events(student.events))
        events = SequencedEvents(ordered, tuple(map(unit_label, map(_unit, ordered))))
        sequences.append(StudentSequence(student=student, events=events))
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
