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
* **Active days**: distinct calendar dates with a timed event, in the report's time zone
  (UTC unless the ``timezone`` option says otherwise). All datetimes here are aware UTC.

**Flags** (the report prints :data:`FLAG_RULES` and :data:`FENCE_RULE`) single out the students
a teacher would look at, so they compare a student with the class, never with a fixed
number alone: a measure flags when it is beyond the class's Tukey fence (quartile ± 1.5 × the
interquartile range) *and* a plain multiple of the class median *and* an absolute floor.
Quick, clean work (the class's units reached, few returns) is never a flag. The old rules
(fixed percentiles: the bottom 15% in time, the last 15% to start, any 3 revisits) flagged
17 of 19 students of a real class and 19 of 19 of ``examples/students.json``; these flag none
of ``examples/students.json`` (a uniformly random class: nobody stands out), and on
``bench/synthetic.mixed_class`` (20 seeds × 19, 30 and 120 students) every struggling student,
99% of those who barely started and every late starter, 55–85% of the slow ones, 1–2% of the
steady and none of the quick, clean ones: 23–26% of a class of which 26% were planted.
Needs attention orders the flagged students by :attr:`StudentAnalysis.distance`.

**Units of the class** (:class:`UnitSummary`): per unit, who reached it, the median time on it,
who came back to it and the class's saves per submission on it; :class:`Hardest` names the
unit with the highest mean place on those measures, among units a quarter of the class reached.

Students stay in upload order everywhere; only Needs attention is ordered (by distance).
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from typing import Any

from .figures import UTC, format_duration, format_multiple, format_ratio, plural, whole
from .sequencing import order_events, unit_labels
from .submission import Student

DEFAULT_IDLE_CUTOFF_MINUTES = 30
NO_TYPE = "(no type)"
#: Flags compare a student with the class: below this size a class has no "usual".
MIN_COHORT = 5
LOW_PERCENTILE = 15
HIGH_PERCENTILE = 85
#: Tukey's fences: beyond the middle half of the class by this many times its width.
FENCE = Fraction(3, 2)
RETURN_MIN = 3
RETURN_FACTOR = 2
SAVES_MIN = 10
SAVES_FACTOR = 3
BEHIND_UNITS_FACTOR = Fraction(1, 2)
BEHIND_TIME_FACTOR = Fraction(1, 4)
LONG_TIME_FACTOR = 3
LATE_START_MIN = timedelta(days=1)
#: A unit must be reached by this share of the class (and 3 students) to be named the hardest.
HARDEST_MIN_SHARE = Fraction(1, 4)
HARDEST_MIN_STUDENTS = 3

_FRACTION_WORDS = {Fraction(1, 2): "half", Fraction(1, 3): "a third", Fraction(1, 4): "a quarter"}


def _words(fraction: Fraction) -> str:
    return _FRACTION_WORDS[fraction]


FLAG_RULES: dict[str, str] = {
    "returned": (
        f"Kept going back to a unit: their most-revisited unit has at least {RETURN_MIN} revisits, at least "
        f"{RETURN_FACTOR}× the class's median for its students' most-revisited units, and beyond the class's "
        "usual range (the upper fence)."
    ),
    "many_saves": (
        f"Many saves per submission: on some unit, at least {SAVES_MIN} saves, and saves per submission there "
        f"(no submission counts as one) at least {SAVES_FACTOR}× the class's on that unit (all its saves over all "
        "its submissions) and beyond the upper fence of the students' largest such multiples."
    ),
    "behind": (
        f"Behind the class: reached at most {_words(BEHIND_UNITS_FACTOR)} as many units as the class's median "
        f"(and below the lower fence), or reached fewer units than the median with at most "
        f"{_words(BEHIND_TIME_FACTOR)} of its median time on task. Quick work that reaches the class's units "
        "is never a flag."
    ),
    "long_time": (
        f"Far more time than the class: time on task at least {LONG_TIME_FACTOR}× the class's median and "
        "beyond the upper fence."
    ),
    "late_start": (
        "Started late: first event more than a day after the class's median first event and beyond the upper fence."
    ),
}
#: Each flag in a word or two, for tables and spreadsheets.
FLAG_NAMES: dict[str, str] = {
    "returned": "returns", "many_saves": "saves", "behind": "behind", "long_time": "long time",
    "late_start": "late start",
    "went_quiet": "went quiet",  # raised by .activity over a period, not by these rules
}
FENCE_RULE = (
    "A flag compares a student with the other students of their namespace, and only in classes of "
    f"{MIN_COHORT} or more. The class's usual range ends at its fences: the 75th percentile plus "
    "1.5 times the middle half's width (the 75th minus the 25th percentile) above, the 25th percentile "
    "minus as much below. Needs attention lists the flagged students, farthest from the class first."
)

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
class UnitSummary:
    """One unit across a class: who reached it, how long they took, who came back to it."""

    label: str
    unit: str
    students: int
    """Students with at least one event on it."""
    median_time_seconds: float
    """Median time on task on it, over the students who reached it."""
    returned: int
    """Students who came back to it (one revisit or more)."""
    revisits: int
    saves: int
    submissions: int

    @property
    def returned_share(self) -> float:
        return self.returned / self.students if self.students else 0.0

    @property
    def saves_per_submission(self) -> float | None:
        """The class's saves on it over its submissions; None without submissions."""
        return self.saves / self.submissions if self.submissions else None

    @property
    def name(self) -> str:
        return f"{self.label} (unit {self.unit})"


@dataclass(frozen=True, slots=True)
class Hardest:
    """The unit the class found hardest and why, in words."""

    label: str
    unit: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CohortMetrics:
    namespace: str
    students: int
    events: Spread
    time_on_task_seconds: Spread
    revisits: Spread
    saves_per_submission_median: float | None  # None when the class has no submissions
    units: tuple[UnitSummary, ...] = ()  # in label order
    hardest: Hardest | None = None
    thresholds: dict[str, Any] = field(default_factory=dict, hash=False)
    """Where each flag starts in this class (what :data:`FLAG_RULES` says, in numbers)."""


@dataclass(frozen=True, slots=True)
class StudentAnalysis:
    metrics: StudentMetrics
    percentile_ranks: dict[str, int] = field(hash=False)  # "events", "time_on_task", "revisits"
    flags: tuple[Flag, ...]  # farthest from the class first
    distance: float = 0.0
    """How far the student is from the class: the root of the summed squares of each measure's
    distance from the class median, in units of that measure's flag threshold (1 = on it)."""

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
    student: Student, labels: Mapping[str, str], idle_cutoff_minutes: int = DEFAULT_IDLE_CUTOFF_MINUTES,
    where: tzinfo = UTC,
) -> StudentMetrics:
    """Everything measured on one student in one pass over the ordered events.

    ``labels`` is the student's namespace's unit → label mapping; active days are calendar
    days in ``where`` (the report's time zone).
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
            days.add(moment.date() if where is UTC else moment.astimezone(where).date())
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


def _quartiles(ordered: Sequence[Any]) -> tuple[Any, Any, Any]:
    """25th percentile, median, 75th percentile of ascending, non-empty ``ordered``."""
    return percentile(ordered, 25), percentile(ordered, 50), percentile(ordered, 75)


def _widened(width: Any) -> Any:
    """``width`` × :data:`FENCE`; a timedelta exactly, to the microsecond."""
    if isinstance(width, timedelta):
        return _MICROSECOND * (width // _MICROSECOND * FENCE.numerator // FENCE.denominator)
    return width * FENCE


def _upper_fence(ordered: Sequence[Any]) -> Any:
    q1, _, q3 = _quartiles(ordered)
    return q3 + _widened(q3 - q1)


def _lower_fence(ordered: Sequence[Any]) -> Any:
    q1, _, q3 = _quartiles(ordered)
    return q1 - _widened(q3 - q1)


def _reach(value: Any, median: Any, threshold: Any) -> float:
    """How far ``value`` goes from ``median`` towards ``threshold`` (0 at the median or on the
    other side, 1 on the threshold, 2 twice as far)."""
    span = threshold - median
    step = value - median
    if isinstance(span, timedelta):
        span, step = span.total_seconds(), step.total_seconds()
    if span == 0 or step * span <= 0:
        return 0.0
    return float(Fraction(step) / Fraction(span)) if not isinstance(step, float) else step / span


def _top_unit(metrics: StudentMetrics) -> UnitMetrics | None:
    """The unit the student revisited most (the first in label order among equals)."""
    return max(metrics.units, key=lambda unit: unit.revisits, default=None)


def _saves(metrics: StudentMetrics) -> tuple[int, int]:
    return sum(unit.saves for unit in metrics.units), sum(unit.submissions for unit in metrics.units)


def _saves_ratio(metrics: StudentMetrics) -> Fraction:
    saves, submissions = _saves(metrics)
    return Fraction(saves, max(submissions, 1))


def _class_ratios(members: list[StudentMetrics]) -> dict[str, Fraction]:
    """Per unit label, the class's saves on it over its submissions (units with both only)."""
    totals: dict[str, list[int]] = {}
    for m in members:
        for unit in m.units:
            total = totals.setdefault(unit.label, [0, 0])
            total[0] += unit.saves
            total[1] += unit.submissions
    return {label: Fraction(saves, submissions) for label, (saves, submissions) in totals.items()
            if saves and submissions}


def _worst_saves(metrics: StudentMetrics, class_ratios: Mapping[str, Fraction]) -> tuple[Fraction, UnitMetrics | None]:
    """The unit where the student's saves per submission (no submission counting as one) are the
    most times the class's on it, with at least :data:`SAVES_MIN` saves; ``(0, None)`` if none."""
    worst: tuple[Fraction, UnitMetrics | None] = (Fraction(0), None)
    for unit in metrics.units:
        ratio = class_ratios.get(unit.label)
        if ratio is None or unit.saves < SAVES_MIN:
            continue
        times_the_class = Fraction(unit.saves, max(unit.submissions, 1)) / ratio
        if times_the_class > worst[0]:
            worst = (times_the_class, unit)
    return worst


def _unit_summaries(members: list[StudentMetrics]) -> tuple[UnitSummary, ...]:
    by_label: dict[str, list[UnitMetrics]] = {}
    for m in members:
        for unit in m.units:
            by_label.setdefault(unit.label, []).append(unit)
    summaries = []
    for label in sorted(by_label, key=_label_key):
        units = by_label[label]
        times = sorted(unit.time_on_task_seconds for unit in units)
        summaries.append(UnitSummary(
            label=label, unit=units[0].unit, students=len(units),
            median_time_seconds=float(percentile(times, 50)),
            returned=sum(unit.revisits > 0 for unit in units),
            revisits=sum(unit.revisits for unit in units),
            saves=sum(unit.saves for unit in units),
            submissions=sum(unit.submissions for unit in units),
        ))
    return tuple(summaries)


def _rank_shares(values: list[float]) -> list[Fraction]:
    """Each value's place among ``values``, 0 (the lowest) to 1 (the highest), ties sharing."""
    ordered = sorted(values)
    if len(ordered) < 2:
        return [Fraction(0)] * len(values)
    last = len(ordered) - 1
    return [Fraction(bisect_left(ordered, v) + bisect_right(ordered, v) - 1, 2 * last) for v in values]


def _hardest(units: tuple[UnitSummary, ...], class_size: int) -> Hardest | None:
    """The unit with the highest mean place over median time, share who came back and (when
    the class submits) saves per submission, among the units enough of the class reached."""
    floor = max(HARDEST_MIN_STUDENTS, class_size * HARDEST_MIN_SHARE)
    eligible = [unit for unit in units if unit.students >= floor]
    if len(eligible) < 2:
        return None
    measures = [
        ("median_time_seconds", [unit.median_time_seconds for unit in eligible]),
        ("returned_share", [unit.returned_share for unit in eligible]),
    ]
    if all(unit.submissions for unit in eligible):
        measures.append(("saves_per_submission", [unit.saves_per_submission for unit in eligible]))
    places = [_rank_shares(values) for _, values in measures]
    scores = [sum(place[index] for place in places) for index in range(len(eligible))]
    index = max(range(len(eligible)), key=lambda i: (scores[i], -i))
    unit = eligible[index]
    reasons = []
    for (name, values), place in zip(measures, places):
        typical = percentile(sorted(values), 50)
        value = values[index]
        if value <= typical:
            continue
        top = "the highest; " if place[index] == 1 else ""
        if name == "median_time_seconds":
            reasons.append(f"median time on it {format_duration(value)} ({top}the median unit: "
                           f"{format_duration(typical)})")
        elif name == "returned_share":
            reasons.append(f"{round(100 * value)}% of the {unit.students} students who reached it came back "
                           f"to it ({top}the median unit: {round(100 * typical)}%)")
        else:
            reasons.append(f"{format_ratio(value)} saves per submission ({top}the median unit: "
                           f"{format_ratio(typical)})")
    if not reasons:
        return None
    return Hardest(label=unit.label, unit=unit.unit, reasons=tuple(reasons))


@dataclass(frozen=True, slots=True)
class _Measure:
    """One measure a flag reads: each student's value, the class median and the threshold."""

    code: str
    values: list[Any]
    median: Any
    threshold: Any
    applies: list[bool]


def _measures(members: list[StudentMetrics]) -> tuple[list[_Measure], dict[str, Any]]:
    """The flag measures of a class, with where each starts (``thresholds`` in the JSON)."""
    measures: list[_Measure] = []
    thresholds: dict[str, Any] = {}

    tops = [_top_unit(m) for m in members]
    returns = [top.revisits if top else 0 for top in tops]
    ordered = sorted(returns)
    median = percentile(ordered, 50)
    threshold = max(RETURN_MIN, RETURN_FACTOR * median, _upper_fence(ordered))
    measures.append(_Measure("returned", returns, median, threshold, [True] * len(members)))
    thresholds["returned_revisits"] = threshold

    class_ratios = _class_ratios(members)
    if class_ratios:
        worst = [_worst_saves(m, class_ratios) for m in members]
        ratios = [ratio for ratio, _ in worst]
        ordered = sorted(ratios)
        median = percentile(ordered, 50)
        threshold = max(SAVES_FACTOR, _upper_fence(ordered))
        measures.append(_Measure("many_saves", ratios, median, threshold, [True] * len(members)))
        thresholds["many_saves_times_the_class"] = threshold

    units = [m.unit_count for m in members]
    ordered = sorted(units)
    units_median = percentile(ordered, 50)
    threshold = min(units_median * BEHIND_UNITS_FACTOR, _lower_fence(ordered))
    behind_units = _Measure("behind", units, units_median, threshold, [True] * len(members))
    thresholds["behind_units"] = threshold

    times = [m.time_on_task_seconds for m in members]
    ordered = sorted(times)
    time_median = percentile(ordered, 50)
    threshold = time_median * BEHIND_TIME_FACTOR
    behind_time = _Measure("behind", times, time_median, threshold, [u < units_median for u in units])
    thresholds["behind_time_seconds"] = threshold
    measures += [behind_units, behind_time]

    threshold = max(LONG_TIME_FACTOR * time_median, _upper_fence(ordered))
    measures.append(_Measure("long_time", times, time_median, threshold, [True] * len(members)))
    thresholds["long_time_seconds"] = threshold

    firsts = [m.first for m in members]
    ordered = sorted(moment for moment in firsts if moment is not None)
    if ordered:
        median = percentile(ordered, 50)
        threshold = max(median + LATE_START_MIN, _upper_fence(ordered))
        measures.append(_Measure("late_start", firsts, median, threshold, [moment is not None for moment in firsts]))
        thresholds["late_start"] = threshold
    return measures, thresholds


def _describe_flag(code: str, m: StudentMetrics, measures: list[_Measure],
                   class_ratios: Mapping[str, Fraction]) -> str:
    """A flag's reason in words, with the student's figure beside the class's."""
    medians = {}
    for measure in measures:
        medians.setdefault(measure.code, []).append(measure.median)
    median = medians[code][0]
    if code == "returned":
        top = _top_unit(m)
        return (f"Returned to {top.name} {plural(top.revisits, 'time')} (classmates' most-revisited unit: "
                f"median {whole(median)})")
    if code == "many_saves":
        ratio, unit = _worst_saves(m, class_ratios)
        return (f"{plural(unit.saves, 'save')} for {plural(unit.submissions, 'submission')} on {unit.name}: "
                f"{format_multiple(float(ratio))} the class's saves per submission there "
                f"({format_ratio(class_ratios[unit.label])})")
    if code == "behind":
        units_median, time_median = medians["behind"]
        return (f"Reached {plural(m.unit_count, 'unit')} with {format_duration(m.time_on_task_seconds)} on "
                f"task (class median: {float(units_median):g} units, {format_duration(float(time_median))})")
    if code == "long_time":
        if not median:  # half the class or more has no time on task (every gap past the idle cutoff)
            return f"{format_duration(m.time_on_task_seconds)} on task (class median: {format_duration(0)})"
        return (f"{format_duration(m.time_on_task_seconds)} on task, "
                f"{format_multiple(m.time_on_task_seconds / float(median))} the class's median "
                f"({format_duration(float(median))})")
    return f"Started {format_duration(m.first - median)} after the class's median first event"


def _cohort(namespace: str, members: list[StudentMetrics]) -> tuple[CohortMetrics, list[StudentAnalysis]]:
    events = sorted(m.events for m in members)
    times = sorted(m.time_on_task_seconds for m in members)
    revisits = sorted(m.revisits for m in members)
    with_submissions = any(_saves(m)[1] for m in members)
    ratio_median = percentile(sorted(_saves_ratio(m) for m in members), 50) if with_submissions else None
    class_ratios = _class_ratios(members)
    units = _unit_summaries(members)
    relative = len(members) >= MIN_COHORT
    measures, thresholds = _measures(members) if relative else ([], {})
    cohort = CohortMetrics(
        namespace=namespace,
        students=len(members),
        events=_spread(events),
        time_on_task_seconds=_spread(times),
        revisits=_spread(revisits),
        saves_per_submission_median=None if ratio_median is None else float(ratio_median),
        units=units,
        hardest=_hardest(units, len(members)),
        thresholds=thresholds,
    )
    analyses = []
    for index, m in enumerate(members):
        reaches: dict[str, float] = {}
        for measure in measures:
            value = measure.values[index]
            if value is None or not measure.applies[index]:
                continue
            reach = _reach(value, measure.median, measure.threshold)
            reaches[measure.code] = max(reaches.get(measure.code, 0.0), reach)
        flagged = sorted((code for code, reach in reaches.items() if reach >= 1),
                         key=lambda code: -reaches[code])
        analyses.append(StudentAnalysis(
            metrics=m,
            percentile_ranks={
                "events": percentile_rank(events, m.events),
                "time_on_task": percentile_rank(times, m.time_on_task_seconds),
                "revisits": percentile_rank(revisits, m.revisits),
            },
            flags=tuple(Flag(code, _describe_flag(code, m, measures, class_ratios)) for code in flagged),
            distance=math.sqrt(sum(reach * reach for reach in reaches.values())),
        ))
    return cohort, analyses


def analyse(
    students: list[Student],
    labels: dict[str, dict[str, str]] | None = None,
    *,
    idle_cutoff_minutes: int = DEFAULT_IDLE_CUTOFF_MINUTES,
    order: Mapping[str, Sequence[str]] | None = None,
    where: tzinfo = UTC,
) -> UploadAnalysis:
    """Metrics, cohort-relative ranks and flags for every student of an upload.

    ``labels`` defaults to :func:`~reportgen.domain.sequencing.unit_labels` of ``students``
    with ``order`` (the ``units`` option). Each namespace is its own cohort.
    """
    if labels is None:
        labels = unit_labels(students, order)
    measured = [student_metrics(s, labels[s.namespace], idle_cutoff_minutes, where) for s in students]
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
            "distance": round(analysis.distance, 2),
        },
    }


def _spread_json(spread: Spread, *, seconds: bool = False) -> dict[str, int | float]:
    convert = (lambda value: math.floor(value + 0.5)) if seconds else _number  # seconds: halves up
    return {"p15": convert(spread.p15), "median": convert(spread.median), "p85": convert(spread.p85)}


def _threshold_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    return _number(float(value))


def unit_summary_json(unit: UnitSummary) -> dict[str, Any]:
    ratio = unit.saves_per_submission
    return {
        "label": unit.label,
        "unit": unit.unit,
        "students": unit.students,
        "median_time_seconds": math.floor(unit.median_time_seconds + 0.5),
        "returned": unit.returned,
        "revisits": unit.revisits,
        "saves": unit.saves,
        "submissions": unit.submissions,
        "saves_per_submission": None if ratio is None else _number(ratio),
    }


def cohort_json(cohort: CohortMetrics) -> dict[str, Any]:
    """The class figures; event and revisit percentiles to two decimals, seconds rounded (halves up)."""
    median = cohort.saves_per_submission_median
    hardest = cohort.hardest
    return {
        "namespace": cohort.namespace,
        "students": cohort.students,
        "events": _spread_json(cohort.events),
        "time_on_task_seconds": _spread_json(cohort.time_on_task_seconds, seconds=True),
        "revisits": _spread_json(cohort.revisits),
        "saves_per_submission_median": None if median is None else _number(median),
        "units": [unit_summary_json(unit) for unit in cohort.units],
        "hardest_unit": None if hardest is None else {
            "label": hardest.label, "unit": hardest.unit, "reasons": list(hardest.reasons)},
        "flag_thresholds": {name: _threshold_json(value) for name, value in cohort.thresholds.items()},
    }
