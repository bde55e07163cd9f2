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
from datetime import datetime, timedelta, timezone, tzinfo

from .activity import ACTIVITY_RULES, class_activity
from .analytics import FENCE_RULE, FLAG_RULES
from .figures import UTC, format_duration, format_minute, format_ratio, format_time, whole, zone, zone_label
from .importers.common import input_words
from .options import DEFAULT_OPTIONS, ReportOptions
from .sequencing import StudentSequence

SEQUENCE_CHUNK = 100
#: A student of at most this many events shares PDF pages with the brief students around it
#: (``shares_page``): its section is a fifth to a quarter of a page. With a page each, 2,000
#: students cost 3.6-4x their upload with one event and 3.06x with two (issue 24's bound is 3x;
#: three events, 1.77x): each page's content stream is deflated on its own, so the stored
#: document shares nothing between students. Sharing pages, one event costs 1.8-2.0x and two
#: 2.4-2.7x. Its own PDF is then rendered when asked for, not cut from the upload's, whose page
#: holds other students too.
BRIEF_EVENTS = 2
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
    ("Active days", "Distinct calendar days (in the report's time zone) with at least one event."),
    ("Percentile rank", "Where a student sits in their namespace, per measure (events, time on task, revisits): "
                        "P50 is the middle of the class, P90 means more than about 90% of classmates."),
    ("Class range", "The 15th percentile, median and 85th percentile of the students of one namespace, "
                    "counts rounded to whole numbers."),
    ("Units of the class", "Per unit: the students who reached it (an event on it), the median time on it among "
                           "them, the share of them who came back to it (a revisit), and the class's saves per "
                           "submission on it. The hardest unit has the highest mean place among the units a "
                           "quarter of the class reached, on median time, share who came back and saves per "
                           "submission."),
    ("Time on task by unit", "One row per student, one column per unit; the darker, the more time on it; "
                             "empty where the student never reached the unit."),
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
    spans: tuple[tuple[datetime, datetime], ...] = ()
    """The stretches of work within the visit: it breaks where the student was idle for longer
    than the idle cutoff (a visit over a week-long break is two bars, not one a week long)."""


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
    distance: float
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
    where: tzinfo = UTC
    """The report's time zone."""
    log_rows: tuple[int, int] | None = None
    """The event-log rows ``[start, stop)`` this document prints, when the log is cut into
    pieces that workers render apart (:func:`reportgen.domain.batching.plan_pieces`)."""
    name: str = ""
    """The student's name (``student_names``: a Moodle user's full name, an actor's), or ``""``."""

    @property
    def shares_page(self) -> bool:
        """Whether the PDF prints this student on the page of the brief students before it."""
        return self.event_count <= BRIEF_EVENTS and self.activity is None and self.log_rows is None

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
            EventRow(position=item.position, time=format_time(item.event.created_at, self.where),
                     type=item.event.type or "",
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
class UnitLine:
    """One unit of a class, as its table prints it."""

    label: str
    unit: str
    students: int
    reached: str
    """``12 of 19``."""
    median_time: str
    median_seconds: float
    returned: str
    """``42%``."""
    returned_share: float
    saves_per_submission: str
    hardest: bool


@dataclass(frozen=True, slots=True)
class HeatRow:
    """One student's time on each unit of the class (None: never reached it)."""

    number: int
    student_id: str
    seconds: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class CohortReport:
    namespace: str
    students: int
    ranges: tuple[Range, ...]
    units: tuple[UnitLine, ...] = ()
    hardest: str | None = None
    """``Q7 (unit 11): median time on it 38 min (the highest; …); …``."""
    heat: tuple[HeatRow, ...] = ()
    """One row per student of the class in upload order, a column per unit of :attr:`units`."""
    activity: Mapping | None = None
    """The class's events and active students per day or week (:func:`.activity.class_activity`)."""


@dataclass(frozen=True, slots=True)
class Attention:
    """A student of Needs attention: who, and the reasons in words."""

    number: int
    student_id: str
    namespace: str
    reasons: str
    distance: float
    name: str = ""
    """The student's name (``student_names``), or ``""``."""


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
    fence_rule: str = FENCE_RULE
    how_to_read: tuple[tuple[str, str], ...] = HOW_TO_READ
    activity_rules: tuple[tuple[str, str], ...] = ACTIVITY_RULES
    student_total: int = 1
    """Students in the whole upload (this data may be one chunk of them)."""
    attention: tuple[Attention, ...] = ()
    """The flagged students, farthest from their class first (for the class page)."""
    zone_name: str = "UTC"
    """What the report's times are in, in words: ``UTC`` or ``Europe/Berlin``."""

    @property
    def event_count(self) -> int:
        return sum(s.event_count for s in self.students)

    @property
    def flagged(self) -> int:
        return sum(bool(s.flags) for s in self.students)


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


def _spans(times: Sequence[datetime], cutoff: timedelta) -> tuple[tuple[datetime, datetime], ...]:
    """Stretches of ``times`` (in order) without a gap longer than ``cutoff``."""
    spans, start, previous = [], times[0], times[0]
    for moment in times[1:]:
        if moment - previous > cutoff:
            spans.append((start, previous))
            start = moment
        previous = moment
    spans.append((start, previous))
    return tuple(spans)


def _visits(sequence: StudentSequence, runs: Sequence[Sequence], rows: Mapping[str, int],
            units: Mapping[str, str], cutoff: timedelta) -> tuple[tuple[VisitMark, ...], int]:
    """Each run of the compressed sequence placed in time, from the events it covers, broken
    where the student was idle longer than ``cutoff``."""
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
            times.sort()
            marks.append(VisitMark(row=rows[label], start=times[0], end=times[-1], returned=label in seen,
                                   label=label, unit=units[label], events=count, spans=_spans(times, cutoff)))
        seen.add(label)
    return tuple(marks), untimed


def class_page_metrics(metrics: Mapping) -> dict:
    """What a class page prints of a student's metrics: its figures and units (for the class's
    units and heat map), without its visits (the bulk of them, one per run), for an assembly
    that holds every student's at once."""
    return {**metrics, "runs": [], "sequence_compressed": ""}


def student_report(sequence: StudentSequence, metrics: Mapping, number: int,
                   cohort_size: int = 1, options: ReportOptions = DEFAULT_OPTIONS, *,
                   with_units: bool = True) -> StudentReport:
    """One student's section from its sequence (for the full sequence and the event log) and
    the metrics the analytics stored for it; names from ``options``, times in its time zone.
    Without ``with_units`` (a class page, which prints each student's figures only) its units
    table is left empty: its rows were four fifths of the cost of a class page's data."""
    where = zone(options.timezone)
    student = sequence.student
    names = options.unit_names.get(student.namespace, {})
    units = metrics["units"]
    columns = _type_columns(units)
    rows = {unit["label"]: index for index, unit in enumerate(units)}
    unit_names = {unit["label"]: unit["unit"] for unit in units}
    first, last = parse_iso(metrics["first"]), parse_iso(metrics["last"])
    visits, untimed = _visits(sequence, metrics["runs"], rows, unit_names,
                              timedelta(minutes=options.idle_cutoff_minutes))
    return StudentReport(
        number=number,
        student_id=student.student_id,
        namespace=student.namespace,
        event_count=metrics["events"],
        unit_count=metrics["unit_count"],
        first_event=format_time(first, where),
        last_event=format_time(last, where),
        span=format_duration(last - first) if first and last else "—",
        active_days=metrics["active_days"],
        time_on_task=format_duration(metrics["time_on_task_seconds"]),
        revisits=metrics["revisits"],
        flags=tuple(flag["text"] for flag in metrics["flags"]),
        flag_codes=tuple(flag["code"] for flag in metrics["flags"]),
        ranks=metrics["percentile_ranks"],
        distance=metrics.get("distance", 0.0),
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
                first=format_minute(parse_iso(unit["first"]), where),
                last=format_minute(parse_iso(unit["last"]), where),
                name=names.get(unit["unit"], ""),
            )
            for unit in (units if with_units else ())
        ),
        compressed=metrics["sequence_compressed"],
        sequence=tuple(sequence.labels),
        ordered=sequence,
        types=frozenset(event.type or "" for event in student.events),
        visits=visits,
        untimed_events=untimed,
        timeline_start=format_minute(first, where),
        timeline_end=format_minute(last, where),
        where=where,
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


#: Units a class's heat map shows at most (those most students reached, in label order).
HEAT_UNITS = 40


def _unit_lines(cohort: Mapping) -> tuple[UnitLine, ...]:
    size = cohort["students"]
    hardest = (cohort.get("hardest_unit") or {}).get("label")
    return tuple(
        UnitLine(
            label=unit["label"], unit=unit["unit"], students=unit["students"],
            reached=f"{unit['students']} of {size}",
            median_time=format_duration(unit["median_time_seconds"]), median_seconds=unit["median_time_seconds"],
            returned=f"{round(100 * unit['returned'] / unit['students'])}%" if unit["students"] else "—",
            returned_share=unit["returned"] / unit["students"] if unit["students"] else 0.0,
            saves_per_submission=format_ratio(unit["saves_per_submission"]),
            hardest=unit["label"] == hardest,
        )
        for unit in cohort.get("units", ())
    )


def _heat(units: Sequence[UnitLine], students: Sequence[tuple[int, str, Mapping]]) -> tuple[HeatRow, ...]:
    labels = [unit.label for unit in units]
    rows = []
    for number, student_id, metrics in students:
        seconds = {unit["label"]: unit["time_on_task_seconds"] for unit in metrics["units"]}
        rows.append(HeatRow(number, student_id, tuple(seconds.get(label) for label in labels)))
    return tuple(rows)


def heat_units(units: Sequence[UnitLine], limit: int = HEAT_UNITS) -> tuple[UnitLine, ...]:
    """The units a heat map shows: all, or the ``limit`` most students reached, in label order."""
    if len(units) <= limit:
        return tuple(units)
    kept = set(sorted(range(len(units)), key=lambda index: (-units[index].students, index))[:limit])
    return tuple(unit for index, unit in enumerate(units) if index in kept)


def cohort_report(cohort: Mapping, students: Sequence[tuple[int, str, Mapping]]) -> CohortReport:
    """A namespace's ranges (every student's values for the distribution chart), its units and
    the time each student spent on each (``students``: number, id and metrics, upload order)."""
    def measure(name: str, key: str, metric: str, fmt) -> Range:
        spread = cohort[key]
        values = tuple(float(metrics[metric]) for _, _, metrics in students)
        return Range(name=name, p15=fmt(spread["p15"]), median=fmt(spread["median"]), p85=fmt(spread["p85"]),
                     values=values, raw=(spread["p15"], spread["median"], spread["p85"]))

    def count(value) -> str:
        return str(whole(value))

    units = _unit_lines(cohort)
    hardest = cohort.get("hardest_unit")
    return CohortReport(
        namespace=cohort["namespace"],
        students=cohort["students"],
        ranges=(
            measure("Events", "events", "events", count),
            measure("Time on task", "time_on_task_seconds", "time_on_task_seconds", format_duration),
            measure("Revisits", "revisits", "revisits", count),
        ),
        units=units,
        hardest=None if not hardest else (
            f"{hardest['label']} (unit {hardest['unit']}): " + "; ".join(hardest["reasons"])),
        heat=_heat(heat_units(units), students),
        activity=class_activity([metrics.get("activity") for _, _, metrics in students]),
    )


def reasons(flags: Sequence[str]) -> str:
    """A student's flags as one line: ``returned to Q2 (unit 7) 9 times; …; 3× …``."""
    return "; ".join(text[:1].lower() + text[1:] if text[1:2].islower() else text for text in flags)


def attention(students: Sequence[StudentReport]) -> tuple[Attention, ...]:
    """The flagged students, farthest from their class first (upload order among equals)."""
    flagged = sorted((s for s in students if s.flags), key=lambda s: (-s.distance, s.number))
    return tuple(Attention(s.number, s.student_id, s.namespace, reasons(s.flags), s.distance, s.name) for s in flagged)


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
    lines.append(f"Times: {zone_description(options.timezone)}")
    return tuple(lines)


def zone_description(name: str | None) -> str:
    """``UTC``, or ``Europe/Berlin (times marked CEST or CET)``: the zone every time of the
    report is in, and the abbreviations its times carry (summer and winter, where it has both)."""
    if name is None:
        return "UTC"
    where = zone(name)
    year = datetime.now(timezone.utc).year
    marks = dict.fromkeys(zone_label(datetime(year, month, 1, 12, tzinfo=timezone.utc).astimezone(where))
                          for month in (7, 1))
    return f"{name} (times marked {' or '.join(marks)})"


def default_title(student_total: int, first_student_id: str) -> str:
    """A report's title when its upload gave none: the student's, or the class's size."""
    return (f"Activity report: {first_student_id}" if student_total == 1
            else f"Activity report: {student_total} students")


def build_report(sequences: Sequence[StudentSequence], metrics: Sequence[Mapping], *,
                 numbers: Sequence[int] | None = None, cohorts: Mapping[str, Mapping] | None = None,
                 options: ReportOptions = DEFAULT_OPTIONS, events_left_out: int = 0,
                 generated_at: datetime | None = None, title: str | None = None,
                 student_total: int | None = None, source: Mapping | None = None,
                 class_page: bool = False) -> ReportData:
    """Everything a report (or a part of one) shows, computed once, shared by HTML and PDF.

    ``numbers`` are the students' 1-based positions in the upload (a part starts where it
    starts); ``student_total`` is the size of the whole upload, for the title. A ``class_page``
    report is for the class page alone: its students have no units tables.
    """
    numbers = numbers or range(1, len(sequences) + 1)
    total = student_total or len(sequences)
    cohorts = cohorts or {}
    moment = generated_at or datetime.now(timezone.utc)
    if title is None:
        title = default_title(total, sequences[0].student.student_id if sequences else "")
    students = tuple(
        student_report(sequence, metric, number,
                       cohorts.get(sequence.student.namespace, {}).get("students", 1), options,
                       with_units=not class_page)
        for sequence, metric, number in zip(sequences, metrics, numbers)
    )
    by_namespace: dict[str, list[tuple[int, str, Mapping]]] = {}
    for sequence, metric, number in zip(sequences, metrics, numbers):
        by_namespace.setdefault(sequence.student.namespace, []).append(
            (number, sequence.student.student_id, metric))
    return ReportData(
        title=title,
        generated_at=format_time(moment.replace(microsecond=0), zone(options.timezone)),
        students=students,
        cohorts=tuple(cohort_report(cohorts[namespace], members) for namespace, members in by_namespace.items()
                      if namespace in cohorts),
        options=options,
        option_lines=option_lines(options, events_left_out, source),
        events_left_out=events_left_out,
        student_total=total,
        attention=attention(students),
        zone_name=options.timezone or "UTC",
    )
