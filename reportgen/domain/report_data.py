"""Turn sequenced students into the plain data the report templates render."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .sequencing import StudentSequence, sequence_students
from .submission import Student

SEQUENCE_CHUNK = 100


@dataclass(frozen=True, slots=True)
class LegendRow:
    label: str
    unit: str
    count: int


@dataclass(frozen=True, slots=True)
class EventRow:
    position: int
    time: str
    type: str
    unit: str
    label: str


@dataclass(frozen=True, slots=True)
class StudentReport:
    student_id: str
    namespace: str
    event_count: int
    unit_count: int
    first_event: str
    last_event: str
    span: str
    legend: tuple[LegendRow, ...]
    sequence: tuple[str, ...]
    events: tuple[EventRow, ...]

    def sequence_lines(self, size: int = SEQUENCE_CHUNK) -> list[tuple[int, int, str]]:
        """The sequence in numbered slices ``(first, last, "Q1 Q1 Q2 …")`` for wrapped text."""
        return [
            (start + 1, min(start + size, len(self.sequence)), " ".join(self.sequence[start:start + size]))
            for start in range(0, len(self.sequence), size)
        ]


@dataclass(frozen=True, slots=True)
class ReportData:
    title: str
    generated_at: str
    students: tuple[StudentReport, ...]

    @property
    def event_count(self) -> int:
        return sum(s.event_count for s in self.students)


def format_time(moment: datetime | None) -> str:
    """UTC, second precision plus milliseconds when present: ``2024-07-21 03:04:55.939 UTC``."""
    if moment is None:
        return "—"
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + " UTC"


def format_span(span: timedelta | None) -> str:
    """``3 d 04:05:06`` style duration, or ``—`` without two timed events."""
    if span is None:
        return "—"
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days} d {clock}" if days else clock


def student_report(sequence: StudentSequence, labels: dict[str, str]) -> StudentReport:
    student = sequence.student
    times = [item.event.created_at for item in sequence.events if item.event.created_at]
    first, last = (min(times), max(times)) if times else (None, None)
    counts = Counter(item.event.unit for item in sequence.events)
    legend = tuple(
        LegendRow(label=label, unit=unit, count=counts[unit])
        for unit, label in labels.items()
        if counts[unit]
    )
    return StudentReport(
        student_id=student.student_id,
        namespace=student.namespace,
        event_count=len(sequence.events),
        unit_count=len(counts),
        first_event=format_time(first),
        last_event=format_time(last),
        span=format_span(last - first) if times else "—",
        legend=legend,
        sequence=tuple(sequence.labels),
        events=tuple(
            EventRow(
                position=item.position,
                time=format_time(item.event.created_at),
                type=item.event.type or "",
                unit=item.event.unit,
                label=item.label,
            )
            for item in sequence.events
        ),
    )


def build_report(students: list[Student], generated_at: datetime | None = None, title: str | None = None,
                 labels: dict[str, dict[str, str]] | None = None) -> ReportData:
    """Everything a report shows, computed once, shared by HTML and PDF.

    Pass ``labels`` (namespace → unit → label) to render part of an upload with the labels
    of the whole upload.
    """
    labels, sequences = sequence_students(students, labels)
    moment = generated_at or datetime.now(timezone.utc)
    if title is None:
        title = (
            f"Activity report: {students[0].student_id}" if len(students) == 1
            else f"Activity report: {len(students)} students"
        )
    return ReportData(
        title=title,
        generated_at=format_time(moment.replace(microsecond=0)),
        students=tuple(student_report(seq, labels[seq.student.namespace]) for seq in sequences),
    )
