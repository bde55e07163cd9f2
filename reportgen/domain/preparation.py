"""An upload made ready to report on, once: the window applied, labels fixed, analytics computed.

The API, the form, the CLI and the benchmarks all go through :func:`prepare`, so the figures a
report prints, the JSON metadata and the ``/sequence?metrics=1`` answer are the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone, tzinfo

from .activity import quiet_flag, report_activity
from .analytics import analyse, cohort_json, student_json
from .figures import zone as zone_of
from .options import DEFAULT_OPTIONS, ReportOptions, apply_window
from .sequencing import unit_labels
from .submission import Student

Labels = dict[str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class PreparedUpload:
    students: list[Student]
    labels: Labels
    options: ReportOptions
    metrics: list[dict]
    """Per student, in upload order: the ``metrics`` object of the JSON metadata."""
    cohorts: dict[str, dict]
    """Per namespace: the class's ranges (``cohort`` in the JSON metadata)."""
    events_left_out: int = 0


def prepare(students: list[Student], options: ReportOptions = DEFAULT_OPTIONS, zone: tzinfo = timezone.utc) -> PreparedUpload:
    """The upload ready to report on; ``zone`` is whose days and weeks the activity over time (and
    the active days) count in, unless the options name a ``timezone``, which then rules."""
    students, left_out = apply_window(students, options.window)
    labels = unit_labels(students, order=options.units or None)
    if options.timezone is not None:
        zone = zone_of(options.timezone)
    analysis = analyse(students, labels, idle_cutoff_minutes=options.idle_cutoff_minutes, where=zone)
    metrics = [student_json(student)["metrics"] for student in analysis.students]
    for student_metrics, activity in zip(metrics, report_activity(students, options.window,
                                                                  options.idle_cutoff_minutes, zone)):
        if activity is not None:
            student_metrics["activity"] = activity
            if (flag := quiet_flag(activity)) is not None:
                student_metrics["flags"].append(flag)
    return PreparedUpload(
        students=students,
        labels=labels,
        options=options,
        metrics=metrics,
        cohorts={namespace: cohort_json(cohort) for namespace, cohort in analysis.cohorts.items()},
        events_left_out=left_out,
    )
