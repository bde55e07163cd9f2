"""What a report shows, as plain data for the templates: built from the analytics of an upload.

The figures themselves are computed once per upload by :mod:`.analytics` and stored as JSON
(the same JSON the API returns); this module only arranges them for reading — formatted
times and durations, per-type columns, the visits a timeline draws — so HTML, PDF and the
overview all say the same thing. A part of an upload (one student, one chunk) is built with
the whole upload's labels, cohorts and options.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .activity import ACTIVITY_RULES
from .analytics import FLAG_RULES
from .importers.common import input_words
from .options import DEFAULT_OPTIONS, ReportOptions
from .sequencing import StudentSequence

SEQUENCE_CHUNK = 100
#: Event types shown as columns of their own in the per-unit table; the rest are summed.
TYPE_COLUMNS = 3

HOW_TO_READ = (
    ("Q1, Q2, …", "Labels for the units of one namespace, numbered in unit order (or the order the "
                  "upload fixed), the same for every student of the upload."),
    ("Visit", "An unbroken run of a student's events on one unit, in time order. Going to another unit "
              "and coming back starts a new visit; revisits = visits − 1."),
    ("Time on task", "For each pair of consecutive timed events, the gap counts for the unit of the later "
                     "event when it is at most the idle cutoff; longer gaps (breaks) count for nothing. "
                     "Events without a time add no time."),
    ("Active days", "Distinct calendar days (UTC) with at least one event."),
    ("Percentile rank", "Where a student sits in their namespace: P50 is the middle of the class, P90 means "
                        "more than about 90% of classmates."),
    ("Class range", "The 15th percentile, median and 85th percentile of the students of one namespace."),
)


@dataclass(frozen=True, slots=True)
class UnitRow:
    label: str
    unit: str
    events: int
    type_counts: tuple[int, ...]
    other_types: int
    visits: int
    revisits: int
    time: str
    first: str
    last: str
    name: str = ""
    """The unit's name (``unit_names``: an xAPI activity's, a Moodle event context), or ``""``."""


@dataclass(frozen=True, slots=True)
class EventRow:
    position: int
    time: str
    type: str
    unit: str
    label: str


@dataclass(frozen=True, slots=True)
class VisitMark:
    """One visit as a timeline draws it: the unit's row, when, and whether it was a return."""

    row: int
    start: datetime
    end: datetime
    returned: bool
    label: str
    unit: str
    events: int


@dataclass(frozen=True, slots=True)
class StudentReport:
    number: int
    student_id: str
    namespace: str
    event_count: int
    unit_count: int
    first_event: str
    last_event: str
    span: str
    active_days: int
    time_on_task: str
    revisits: int
    flags: tuple[str, ...]
    flag_codes: tuple[str, ...]
    ranks: Mapping[str, int]
    cohort_size: int
    type_columns: tuple[str, ...]
    has_other_types: bool
    units: tuple[UnitRow, ...]
    compressed: str
    sequence: tuple[str, ...]
    ordered: StudentSequence
    """The events in time order; :attr:`events` formats them only for the parts that print them."""
    types: frozenset[str]
    visits: tuple[VisitMark, ...]
    untimed_events: int
    timeline_start: str
    timeline_end: str
    activity: Mapping | None = None
    """Activity over time (:mod:`.activity`): per day or week, beside the class median; None for short spans."""
    change: tuple[str, ...] = ()
    """``time on task 3 h 10 min, up 40% from November 2024``: each figure against the previous period."""
    log_rows: tuple[int, int] | None = None
    """The event-log rows ``[start, stop)`` this document prints, when the log is cut into
    pieces that workers render apart (:func:`reportgen.domain.batching.plan_pieces`)."""
    name: str = ""
    """The student's name (``student_names``: a Moodle user's full name, an actor's), or ``""``."""

    def sequence_lines(self, size: int = SEQUENCE_CHUNK, limit: int | None = None) -> list[tuple[int, int, str]]:
        """The sequence (its first ``limit`` labels) in numbered slices ``(first, last, "Q1 Q1 Q2 …")``
        for wrapped text."""
        shown = len(self.sequence) if limit is None else min(limit, len(self.sequence))
        return [
            (start + 1, min(start + size, shown), " ".join(self.sequence[start:min(start + size, shown)]))
            for start in range(0, shown, size)
        ]

    def compressed_head(self, limit: int | None = None) -> str:
        """The compressed sequence, cut after ``limit`` runs with how many more there are."""
        runs = self.compressed.split(" → ")
        if limit is None or len(runs) <= limit:
            return self.compressed
        return " → ".join(runs[:limit]) + f" → … ({len(runs) - limit} more runs)"

    @property
    def events(self) -> list[EventRow]:
        """The event log's rows, or this piece's run of them (a PDF without the log never
        formats them)."""
        ordered = self.ordered.events
        if self.log_rows is not None:
            ordered = ordered[self.log_rows[0]:self.log_rows[1]]
        return [
            EventRow(position=item.position, time=format_time(item.event.created_at), type=item.event.type or "",
                     unit=item.event.unit, label=item.label)
            for item in ordered
        ]

    @property
    def log_continues(self) -> bool:
        """Whether further pieces carry on this document's event log."""
        return self.log_rows is not None and self.log_rows[1] < len(self.ordered.events)

    @property
    def has_events(self) -> bool:
        return bool(self.ordered.events)

    @property
    def unit_rows(self) -> list[str]:
        """The timeline's row names: ``Q2 · 17`` (``Q2 · Week 3 quiz`` when the unit has a
        name), one per unit in label order."""
        return [f"{row.label} · {row.name or row.unit}" for row in self.units]

    @property
    def has_unit_names(self) -> bool:
        return any(row.name for row in self.units)


@dataclass(frozen=True, slots=True)
class Range:
    name: str
    p15: str
    median: str
    p85: str
    values: tuple[float, ...]
    raw: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class CohortReport:
    namespace: str
    students: int
    ranges: tuple[Range, ...]


@dataclass(frozen=True, slots=True)
class ReportData:
    title: str
    generated_at: str
    students: tuple[StudentReport, ...]
    cohorts: tuple[CohortReport, ...] = ()
    options: ReportOptions = DEFAULT_OPTIONS
    option_lines: tuple[str, ...] = ()
    events_left_out: int = 0
    flag_rules: tuple[tuple[str, str], ...] = field(default_factory=lambda: tuple(FLAG_RULES.items()))
    how_to_read: tuple[tuple[str, str], ...] = HOW_TO_READ
    activity_rules: tuple[tuple[str, str], ...] = ACTIVITY_RULES
    student_total: int = 1
    """Students in the whole upload (this data may be one chunk of them)."""

    @property
    def event_count(self) -> int:
        return sum(s.event_count for s in self.students)

    @property
    def flagged(self) -> int:
        return sum(bool(s.flags) for s in self.students)


def format_time(moment: datetime | None) -> str:
    """UTC, second precision plus milliseconds when present: ``2024-07-21 03:04:55.939 UTC``."""
    if moment is None:
        return "—"
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + " UTC"


def format_minute(moment: datetime | None) -> str:
    """``2024-07-21 03:04`` (UTC): first and last touches, where seconds would be noise."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if moment else "—"


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


def format_duration(seconds: float | int | None) -> str:
    """Time on task in words a teacher reads at a glance: ``1 h 05 min``, ``12 min``, ``40 s``."""
    if not seconds:
        return "0 min"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _type_columns(units: Sequence[Mapping]) -> tuple[str, ...]:
    totals: dict[str, int] = {}
    for unit in units:
        for name, count in unit["types"].items():
            totals[name] = totals.get(name, 0) + count
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    return tuple(ranked if len(ranked) <= TYPE_COLUMNS + 1 else ranked[:TYPE_COLUMNS])


def _visits(sequence: StudentSequence, runs: Sequence[Sequence], rows: Mapping[str, int],
            units: Mapping[str, str]) -> tuple[tuple[VisitMark, ...], int]:
    """Each run of the compressed sequence placed in time, from the events it covers."""
    marks, seen, position, untimed = [], set(), 0, 0
    events = sequence.events
    if not events:  # a class page's summary: no events were ordered
        return (), 0
    for label, count in runs:
        covered = events[position:position + count]
        position += count
        times = [item.event.created_at for item in covered if item.event.created_at is not None]
        untimed += len(covered) - len(times)
        if times:
            marks.append(VisitMark(row=rows[label], start=min(times), end=max(times), returned=label in seen,
                                   label=label, unit=units[label], events=count))
        seen.add(label)
    return tuple(marks), untimed


def class_page_metrics(metrics: Mapping) -> dict:
    """What a class page prints of a student's metrics: its figures, without its units and
    visits (the bulk of them), for an assembly that holds every student's at once."""
    return {**metrics, "units": [], "runs": [], "sequence_compressed": ""}


def student_report(sequence: StudentSequence, metrics: Mapping, number: int,
                   cohort_size: int = 1, options: ReportOptions = DEFAULT_OPTIONS) -> StudentReport:
    """One student's section from its sequence (for the full sequence and the event log) and
    the metrics the analytics stored for it; names from ``options``."""
    student = sequence.student
    names = options.unit_names.get(student.namespace, {})
    units = metrics["units"]
    columns = _type_columns(units)
    rows = {unit["label"]: index for index, unit in enumerate(units)}
    unit_names = {unit["label"]: unit["unit"] for unit in units}
    first, last = parse_iso(metrics["first"]), parse_iso(metrics["last"])
    visits, untimed = _visits(sequence, metrics["runs"], rows, unit_names)
    return StudentReport(
        number=number,
        student_id=student.student_id,
        namespace=student.namespace,
        event_count=metrics["events"],
        unit_count=metrics["unit_count"],
        first_event=format_time(first),
        last_event=format_time(last),
        span=format_span(last - first) if first and last else "—",
        active_days=metrics["active_days"],
        time_on_task=format_duration(metrics["time_on_task_seconds"]),
        revisits=metrics["revisits"],
        flags=tuple(flag["text"] for flag in metrics["flags"]),
        flag_codes=tuple(flag["code"] for flag in metrics["flags"]),
        ranks=metrics["percentile_ranks"],
        cohort_size=cohort_size,
        type_columns=columns,
        has_other_types=any(name not in columns for unit in units for name in unit["types"]),
        units=tuple(
            UnitRow(
                label=unit["label"], unit=unit["unit"], events=unit["events"],
                type_counts=tuple(unit["types"].get(name, 0) for name in columns),
                other_types=sum(count for name, count in unit["types"].items() if name not in columns),
                visits=unit["visits"], revisits=unit["revisits"],
                time=format_duration(unit["time_on_task_seconds"]),
                first=format_minute(parse_iso(unit["first"])), last=format_minute(parse_iso(unit["last"])),
                name=names.get(unit["unit"], ""),
            )
            for unit in units
        ),
        compressed=metrics["sequence_compressed"],
        sequence=tuple(sequence.labels),
        ordered=sequence,
        types=frozenset(event.type or "" for event in student.events),
        visits=visits,
        untimed_events=untimed,
        timeline_start=format_minute(first),
        timeline_end=format_minute(last),
        activity=metrics.get("activity"),
        change=change_lines(metrics.get("activity")),
        name=options.student_name(student.namespace, student.student_id),
    )


def change_lines(activity: Mapping | None) -> tuple[str, ...]:
    """Each figure of a period report against the previous period, in words."""
    change = (activity or {}).get("change")
    if not change:
        return ()
    lines = []
    for key, name, fmt in (("events", "events", str), ("time_on_task_seconds", "time on task", format_duration),
                           ("active_days", "active days", str)):
        figure = change[key]
        percent = figure["percent"]
        previous = change["previous_period"]
        trend = (f"none in {previous}" if percent is None else f"the same as in {previous}" if percent == 0
                 else f"{'up' if percent > 0 else 'down'} {abs(percent)}% from {previous}")
        lines.append(f"{name} {fmt(figure['now'])}, {trend}")
    return tuple(lines)


def cohort_report(cohort: Mapping, students: Sequence[Mapping]) -> CohortReport:
    """A namespace's ranges, with every student's values for the distribution chart."""
    def measure(name: str, key: str, metric: str, fmt) -> Range:
        spread = cohort[key]
        values = tuple(float(student[metric]) for student in students)
        return Range(name=name, p15=fmt(spread["p15"]), median=fmt(spread["median"]), p85=fmt(spread["p85"]),
                     values=values, raw=(spread["p15"], spread["median"], spread["p85"]))

    def count(value) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    return CohortReport(
        namespace=cohort["namespace"],
        students=cohort["students"],
        ranges=(
            measure("Events", "events", "events", count),
            measure("Time on task", "time_on_task_seconds", "time_on_task_seconds", format_duration),
            measure("Revisits", "revisits", "revisits", count),
        ),
    )


#: A fixed unit order lists at most this many units in words (an xAPI course may have hundreds).
UNITS_LISTED = 10


def option_lines(options: ReportOptions, events_left_out: int = 0,
                 source: Mapping | None = None) -> tuple[str, ...]:
    """The options a report was made with, in words (shown in the report and on the status
    page), after what was read (``source``: :meth:`.importers.common.Imported.summary`)."""
    read = input_words(source)
    lines = [read] if read else []
    lines.append(f"Idle cutoff: {options.idle_cutoff_minutes} min (longer gaps are breaks)")
    if options.window is not None:
        left_out = f"; {events_left_out} event{'s' if events_left_out != 1 else ''} outside it left out" \
            if events_left_out else ""
        lines.append(f"Window: {options.window.describe()}{left_out}")
    for namespace, units in options.units.items():
        listed = ", ".join(units[:UNITS_LISTED])
        more = f", and {len(units) - UNITS_LISTED} more" if len(units) > UNITS_LISTED else ""
        lines.append(f"Unit order fixed for {namespace or '(no namespace)'}: {listed}{more}")
    lines.append("Event log: " + ("included in the PDF" if options.event_log else "in the HTML and CSV only"))
    return tuple(lines)


def build_report(sequences: Sequence[StudentSequence], metrics: Sequence[Mapping], *,
                 numbers: Sequence[int] | None = None, cohorts: Mapping[str, Mapping] | None = None,
                 options: ReportOptions = DEFAULT_OPTIONS, events_left_out: int = 0,
                 generated_at: datetime | None = None, title: str | None = None,
                 student_total: int | None = None, source: Mapping | None = None) -> ReportData:
    """Everything a report (or a part of one) shows, computed once, shared by HTML and PDF.

    ``numbers`` are the students' 1-based positions in the upload (a part starts where it
    starts); ``student_total`` is the size of the whole upload, for the title.
    """
    numbers = numbers or range(1, len(sequences) + 1)
    total = student_total or len(sequences)
    cohorts = cohorts or {}
    moment = generated_at or datetime.now(timezone.utc)
    if title is None:
        title = (f"Activity report: {sequences[0].student.student_id}" if total == 1
                 else f"Activity report: {total} students")
    students = tuple(
        student_report(sequence, metric, number,
                       cohorts.get(sequence.student.namespace, {}).get("students", 1), options)
        for sequence, metric, number in zip(sequences, metrics, numbers)
    )
    by_namespace: dict[str, list[Mapping]] = {}
    for sequence, metric in zip(sequences, metrics):
        by_namespace.setdefault(sequence.student.namespace, []).append(metric)
    return ReportData(
        title=title,
        generated_at=format_time(moment.replace(microsecond=0)),
        students=students,
        cohorts=tuple(cohort_report(cohorts[namespace], members) for namespace, members in by_namespace.items()
                      if namespace in cohorts),
        options=options,
        option_lines=option_lines(options, events_left_out, source),
        events_left_out=events_left_out,
        student_total=total,
    )
