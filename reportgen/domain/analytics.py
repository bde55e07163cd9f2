"""What a teacher wants to know about each student, computed once per upload.

Definitions (the report prints :data:`FLAG_RULES`; everything else is defined here):

* **Order**: a student's events in :func:`~reportgen.domain.sequencing.order_events` order,
  the order of :func:`~reportgen.domain.sequencing.sequence_students` (timed events by instant,
  then untimed ones in input order).
* **Visit**: a maximal run of consecutive events on the same unit. ``revisits`` of a unit is
  its visits minus one; a student's ``revisits`` is the sum over units. The run-length
  compressed sequence (``Q2×20 → Q3×15 → Q2``) is the list of visits.
* **Time on task**: between two consecutive *timed* events, the gap is credited to the unit
  of the later event when it is at most the idle cutoff (the cutoff itself counts); a longer
  gap counts for nothing, untimed events add nothing. Per unit the credited gaps are summed
  and truncated to whole seconds; a student's total is the sum of those unit totals, so the
  numbers in a report always add up.
* **Types**: counted per unit; an event without a type counts under :data:`NO_TYPE`. A type is
  a *save* if its lower-cased name contains ``save``, a *submission* if it contains ``submi``.
* **Cohort**: the students of the upload in one namespace. Percentiles interpolate linearly
  between closest ranks (numpy's default: position = p/100·(n−1)). A student's percentile
  rank is 100 × (values below + ½ × values equal, itself included) / n, halves rounded up.
* **Active days**: distinct UTC dates with a timed event. All datetimes here are aware UTC.

Flags only inform: students stay in upload order.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

from .sequencing import order_events, unit_labels
from .submission import Student

DEFAULT_IDLE_CUTOFF_MINUTES = 30
NO_TYPE = "(no type)"
MIN_COHORT = 5
RETURN_THRESHOLD = 3
SAVES_FACTOR = 3
LOW_PERCENTILE = 15
HIGH_PERCENTILE = 85

FLAG_RULES: dict[str, str] = {
    "returned": (
        f"Returned to a unit {RETURN_THRESHOLD} or more times: some unit has {RETURN_THRESHOLD} or more "
        "revisits (runs of events on it after the first)."
    ),
    "many_saves": (
        "Many saves before a submission: on some unit, saves per submission are at least "
        f"{SAVES_FACTOR}× the class median (taken over every student and unit with a submission, "
        f"and only when that median is above 0) (classes of {MIN_COHORT} or more, with submissions)."
    ),
    "low_time": (
        f"Well below the cohort in time on task: total time on task at or below the class's "
        f"{LOW_PERCENTILE}th percentile and below its median (classes of {MIN_COHORT} or more)."
    ),
    "late_start": (
        f"Started late: first event after the class's {HIGH_PERCENTILE}th percentile of first events "
        f"(classes of {MIN_COHORT} or more)."
    ),
}

_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_UTC = timezone.utc


def is_save(event_type: str) -> bool:
    return "save" in event_type.lower()


def is_submission(event_type: str) -> bool:
    return "submi" in event_type.lower()


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Visit:
    """One run of consecutive events on a unit; ``position`` is its first event's (1-based)."""

    label: str
    unit: str
    start: datetime | None
    end: datetime | None
    events: int
    position: int


@dataclass(frozen=True, slots=True)
class UnitMetrics:
    label: str
    unit: str
    events: int
    types: dict[str, int] = field(hash=False)  # most frequent first, then by name
    visits: int
    revisits: int
    time_on_task_seconds: int
    first: datetime | None
    last: datetime | None

    @property
    def saves(self) -> int:
        return sum(count for name, count in self.types.items() if is_save(name))

    @property
    def submissions(self) -> int:
        return sum(count for name, count in self.types.items() if is_submission(name))

    @property
    def name(self) -> str:
        """``Q3 (unit 7)``, as flags name a unit."""
        return f"{self.label} (unit {self.unit})"


@dataclass(frozen=True, slots=True)
class StudentMetrics:
    student_id: str
    namespace: str
    events: int
    units: tuple[UnitMetrics, ...]  # in label order
    time_on_task_seconds: int
    active_days: int
    first: datetime | None
    last: datetime | None
    revisits: int
    visits: tuple[Visit, ...]

    @property
    def unit_count(self) -> int:
        return len(self.units)

    @property
    def runs(self) -> tuple[tuple[str, int], ...]:
        """The compressed sequence: ``(label, events)`` per visit, in order."""
        return tuple((visit.label, visit.events) for visit in self.visits)

    def compressed_text(self, max_runs: int | None = None) -> str:
        """``Q2×20 → Q3×15 → Q2 → …``; cut after ``max_runs`` runs with ``→ … (N more runs)``."""
        runs = self.runs
        shown = runs if max_runs is None else runs[:max(max_runs, 0)]
        parts = [label if count == 1 else f"{label}×{count}" for label, count in shown]
        hidden = len(runs) - len(shown)
        if hidden:
            parts.append(f"… ({hidden} more run{'s' if hidden != 1 else ''})")
        return " → ".join(parts)


@dataclass(frozen=True, slots=True)
class Spread:
    p15: float
    median: float
    p85: float


@dataclass(frozen=True, slots=True)
class CohortMetrics:
    namespace: str
    students: int
    events: Spread
    time_on_task_seconds: Spread
    revisits: Spread
    first_event_p85: datetime | None  # None when nobody in the class has a timed event
    saves_per_submission_median: float | None  # None when the class has no submissions


@dataclass(frozen=True, slots=True)
class StudentAnalysis:
    metrics: StudentMetrics
    percentile_ranks: dict[str, int] = field(hash=False)  # "events", "time_on_task", "revisits"
    flags: tuple[Flag, ...]

    @property
    def student_id(self) -> str:
        return self.metrics.student_id

    @property
    def namespace(self) -> str:
        return self.metrics.namespace


@dataclass(frozen=True, slots=True)
class UploadAnalysis:
    students: tuple[StudentAnalysis, ...]  # upload order
    cohorts: dict[str, CohortMetrics] = field(hash=False)
    labels: dict[str, dict[str, str]] = field(hash=False)
    idle_cutoff_minutes: int = DEFAULT_IDLE_CUTOFF_MINUTES

    def student(self, namespace: str, student_id: str) -> StudentAnalysis:
        """One student's analysis; :class:`KeyError` if the upload has no such student."""
        for analysis in self.students:
            if analysis.namespace == namespace and analysis.student_id == student_id:
                return analysis
        raise KeyError((namespace, student_id))


# ── one student ────────────────────────────────────────────────────────────────


def _label_key(label: str) -> tuple:
    digits = label[1:]
    return (0, int(digits), label) if label[:1] == "Q" and digits.isdigit() else (1, 0, label)


class _UnitTally:
    __slots__ = ("events", "types", "visits", "time", "first", "last")

    def __init__(self) -> None:
        self.events = 0
        self.types: dict[str | None, int] = {}
        self.visits = 0
        self.time = timedelta(0)
        self.first: datetime | None = None
        self.last: datetime | None = None


def student_metrics(
    student: Student, labels: Mapping[str, str], idle_cutoff_minutes: int = DEFAULT_IDLE_CUTOFF_MINUTES
) -> StudentMetrics:
    """Everything measured on one student in one pass over the ordered events.

    ``labels`` is the student's namespace's unit → label mapping.
    """
    cutoff = timedelta(minutes=idle_cutoff_minutes)
    tallies: dict[str, _UnitTally] = {}
    visits: list[Visit] = []
    days: set = set()
    first: datetime | None = None
    previous: datetime | None = None  # the latest timed event so far
    unit: str | None = None
    tally = _UnitTally()
    run_start = run_end = None
    run_events = run_position = 0
    ordered = order_events(student.events)
    for position, event in enumerate(ordered, start=1):
        if event.unit != unit:
            if unit is not None:
                visits.append(Visit(labels[unit], unit, run_start, run_end, run_events, run_position))
            unit = event.unit
            tally = tallies.get(unit)
            if tally is None:
                tally = tallies[unit] = _UnitTally()
            tally.visits += 1
            run_start = run_end = None
            run_events, run_position = 0, position
        run_events += 1
        tally.events += 1
        tally.types[event.type] = tally.types.get(event.type, 0) + 1
        moment = event.created_at
        if moment is not None:
            if moment.tzinfo is not _UTC:
                moment = moment.astimezone(_UTC)
            if run_start is None:
                run_start = moment
            run_end = moment
            if tally.first is None:
                tally.first = moment
            tally.last = moment
            if previous is None:
                first = moment
            else:
                gap = moment - previous
                if gap <= cutoff:
                    tally.time += gap
            previous = moment
            days.add(moment.date())
    if unit is not None:
        visits.append(Visit(labels[unit], unit, run_start, run_end, run_events, run_position))

    units = []
    for name, tally in tallies.items():
        types: dict[str, int] = {}
        for kind, count in tally.types.items():
            key = NO_TYPE if kind is None else kind
            types[key] = types.get(key, 0) + count
        units.append(UnitMetrics(
            label=labels[name], unit=name, events=tally.events,
            types=dict(sorted(types.items(), key=lambda item: (-item[1], item[0]))),
            visits=tally.visits, revisits=tally.visits - 1,
            time_on_task_seconds=tally.time // _SECOND,
            first=tally.first, last=tally.last,
        ))
    units.sort(key=lambda metrics: _label_key(metrics.label))
    return StudentMetrics(
        student_id=student.student_id,
        namespace=student.namespace,
        events=len(ordered),
        units=tuple(units),
        time_on_task_seconds=sum(metrics.time_on_task_seconds for metrics in units),
        active_days=len(days),
        first=first,
        last=previous,
        revisits=sum(metrics.revisits for metrics in units),
        visits=tuple(visits),
    )


# ── the cohort ─────────────────────────────────────────────────────────────────


def percentile(values: Sequence[Any], p: float) -> Any:
    """numpy's ``linear`` percentile of ascending, non-empty ``values`` (numbers or datetimes).

    Exact: numbers come back as an ``int`` or a :class:`~fractions.Fraction`, datetimes to the
    microsecond.
    """
    position = Fraction(p) / 100 * (len(values) - 1)
    lower = int(position)
    fraction = position - lower
    low = values[lower]
    if fraction == 0:
        return low
    high = values[lower + 1]
    if isinstance(low, datetime):
        return low + _MICROSECOND * round((high - low) // _MICROSECOND * fraction)
    return low + (high - low) * fraction


def percentile_rank(ordered: Sequence[Any], value: Any) -> int:
    """100 × (below + ½ × equal) / n over ascending ``ordered`` (which includes ``value``), halves up."""
    below = bisect_left(ordered, value)
    equal = bisect_right(ordered, value) - below
    n = len(ordered)
    return (100 * (2 * below + equal) + n) // (2 * n)


def _spread(ordered: Sequence[int]) -> Spread:
    return Spread(
        p15=float(percentile(ordered, LOW_PERCENTILE)),
        median=float(percentile(ordered, 50)),
        p85=float(percentile(ordered, HIGH_PERCENTILE)),
    )


def _format_duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _format_moment(moment: datetime) -> str:
    return moment.astimezone(_UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _returned_flag(metrics: StudentMetrics) -> Flag | None:
    returned = [unit for unit in metrics.units if unit.revisits >= RETURN_THRESHOLD]
    if not returned:
        return None
    parts = ", ".join(f"{unit.name} {unit.revisits} times" for unit in returned)
    return Flag("returned", f"Returned to {parts}")


def _many_saves_flag(metrics: StudentMetrics, median: Fraction) -> Flag | None:
    parts = []
    for unit in metrics.units:
        submissions = unit.submissions
        if not submissions:
            continue
        ratio = Fraction(unit.saves, submissions)
        if ratio >= SAVES_FACTOR * median:
            parts.append(
                f"{unit.saves} save{'s' if unit.saves != 1 else ''} over {submissions} "
                f"submission{'s' if submissions != 1 else ''} on {unit.name} — "
                f"{float(ratio / median):.1f}× the class median"
            )
    return Flag("many_saves", "; ".join(parts)) if parts else None


def _cohort(namespace: str, members: list[StudentMetrics]) -> tuple[CohortMetrics, list[StudentAnalysis]]:
    events = sorted(m.events for m in members)
    times = sorted(m.time_on_task_seconds for m in members)
    revisits = sorted(m.revisits for m in members)
    firsts = sorted(m.first for m in members if m.first is not None)
    ratios = sorted(  # distinct ratios of counts never round to one float: float order is exact
        (Fraction(unit.saves, unit.submissions) for m in members for unit in m.units if unit.submissions),
        key=float,
    )
    ratio_median = percentile(ratios, 50) if ratios else None
    first_p85 = percentile(firsts, HIGH_PERCENTILE) if firsts else None
    cohort = CohortMetrics(
        namespace=namespace,
        students=len(members),
        events=_spread(events),
        time_on_task_seconds=_spread(times),
        revisits=_spread(revisits),
        first_event_p85=first_p85,
        saves_per_submission_median=None if ratio_median is None else float(ratio_median),
    )
    relative = len(members) >= MIN_COHORT
    time_p15 = percentile(times, LOW_PERCENTILE)
    time_median = percentile(times, 50)
    analyses = []
    for m in members:
        flags = [_returned_flag(m)]
        if relative:
            if ratio_median is not None and ratio_median > 0:
                flags.append(_many_saves_flag(m, ratio_median))
            if m.time_on_task_seconds <= time_p15 and m.time_on_task_seconds < time_median:
                flags.append(Flag("low_time", (
                    f"{_format_duration(m.time_on_task_seconds)} on task; the class's "
                    f"{LOW_PERCENTILE}th percentile is {_format_duration(time_p15)} "
                    f"and its median {_format_duration(time_median)}"
                )))
            if m.first is not None and first_p85 is not None and m.first > first_p85:
                flags.append(Flag("late_start", (
                    f"First event {_format_moment(m.first)}, after the class's "
                    f"{HIGH_PERCENTILE}th percentile ({_format_moment(first_p85)})"
                )))
        analyses.append(StudentAnalysis(
            metrics=m,
            percentile_ranks={
                "events": percentile_rank(events, m.events),
                "time_on_task": percentile_rank(times, m.time_on_task_seconds),
                "revisits": percentile_rank(revisits, m.revisits),
            },
            flags=tuple(flag for flag in flags if flag is not None),
        ))
    return cohort, analyses


def analyse(
    students: list[Student],
    labels: dict[str, dict[str, str]] | None = None,
    *,
    idle_cutoff_minutes: int = DEFAULT_IDLE_CUTOFF_MINUTES,
    order: Mapping[str, Sequence[str]] | None = None,
) -> UploadAnalysis:
    """Metrics, cohort-relative ranks and flags for every student of an upload.

    ``labels`` defaults to :func:`~reportgen.domain.sequencing.unit_labels` of ``students``
    with ``order`` (the ``units`` option). Each namespace is its own cohort.
    """
    if labels is None:
        labels = unit_labels(students, order)
    measured = [student_metrics(s, labels[s.namespace], idle_cutoff_minutes) for s in students]
    by_namespace: dict[str, list[int]] = {}
    for index, metrics in enumerate(measured):
        by_namespace.setdefault(metrics.namespace, []).append(index)
    cohorts: dict[str, CohortMetrics] = {}
    analyses: list[StudentAnalysis | None] = [None] * len(measured)
    for namespace, indices in by_namespace.items():
        cohorts[namespace], results = _cohort(namespace, [measured[i] for i in indices])
        for index, result in zip(indices, results):
            analyses[index] = result
    return UploadAnalysis(
        students=tuple(analyses), cohorts=cohorts, labels=labels, idle_cutoff_minutes=idle_cutoff_minutes,
    )


# ── JSON ───────────────────────────────────────────────────────────────────────


def iso_z(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``: ``2024-07-21T03:04:55.939000Z``."""
    if moment is None:
        return None
    return moment.astimezone(_UTC).replace(tzinfo=None).isoformat() + "Z"


def _number(value: float) -> int | float:
    """Whole numbers as integers, others to two decimals."""
    return int(value) if float(value).is_integer() else round(value, 2)


def _unit_json(unit: UnitMetrics) -> dict[str, Any]:
    return {
        "label": unit.label,
        "unit": unit.unit,
        "events": unit.events,
        "types": dict(unit.types),
        "visits": unit.visits,
        "revisits": unit.revisits,
        "time_on_task_seconds": unit.time_on_task_seconds,
        "first": iso_z(unit.first),
        "last": iso_z(unit.last),
    }


def student_json(analysis: StudentAnalysis) -> dict[str, Any]:
    """``{"student_id", "namespace", "metrics": {…}}``; times ISO UTC with ``Z``, seconds integers."""
    m = analysis.metrics
    return {
        "student_id": m.student_id,
        "namespace": m.namespace,
        "metrics": {
            "events": m.events,
            "units": [_unit_json(unit) for unit in m.units],
            "unit_count": m.unit_count,
            "time_on_task_seconds": m.time_on_task_seconds,
            "active_days": m.active_days,
            "first": iso_z(m.first),
            "last": iso_z(m.last),
            "revisits": m.revisits,
            "sequence_compressed": m.compressed_text(),
            "runs": [[label, count] for label, count in m.runs],
            "percentile_ranks": dict(analysis.percentile_ranks),
            "flags": [{"code": flag.code, "text": flag.text} for flag in analysis.flags],
        },
    }


def _spread_json(spread: Spread, *, seconds: bool = False) -> dict[str, int | float]:
    convert = (lambda value: math.floor(value + 0.5)) if seconds else _number  # seconds: halves up
    return {"p15": convert(spread.p15), "median": convert(spread.median), "p85": convert(spread.p85)}


def cohort_json(cohort: CohortMetrics) -> dict[str, Any]:
    """The class figures; event and revisit percentiles to two decimals, seconds rounded (halves up)."""
    median = cohort.saves_per_submission_median
    return {
        "namespace": cohort.namespace,
        "students": cohort.students,
        "events": _spread_json(cohort.events),
        "time_on_task_seconds": _spread_json(cohort.time_on_task_seconds, seconds=True),
        "revisits": _spread_json(cohort.revisits),
        "first_event_p85": iso_z(cohort.first_event_p85),
        "saves_per_submission_median": None if median is None else _number(median),
    }
