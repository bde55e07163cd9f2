"""Reports from a class's history: ``POST /assignment/<fmt>`` with a namespace and a period.

A period report is an upload made of the stored events: the students with events in the period
(or the one asked for), their events in time order, with the period as the report's window, so
it goes the whole way an upload goes (:func:`reportgen.pipeline.submit.create_report`) and its
sequences and metrics are those of uploading the same events with the same window. Its label
names the class, the period and the zone ("python-101 · December 2024 (Europe/Berlin)").
"""
from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from flask import current_app

from ..auth.clients import current_client
from ..delivery import webhooks
from ..domain.options import ReportOptions, parse_options
from ..domain.activity import add_change
from ..domain.periods import Period, period_from_request, zone
from ..domain.preparation import PreparedUpload, prepare
from ..domain.submission import Problems, SubmissionError, raise_if, shown, type_name
from ..domain.upload import parse_upload
from ..extensions import db
from ..models import ClassReport, Report, SchoolClass
from ..pipeline.submit import Idempotency, create_report
from . import store
from .roster import names_of
from .summary import per_student_totals

KNOWN_FIELDS = ("namespace", "period", "window", "student_id", "options", "label", "email", "callback_url")
MAX_LABEL_CHARS = 200


class EmptyPeriod(SubmissionError):
    """The class has no events in the period (422)."""

    status = 422


def is_period_request(document: Any) -> bool:
    """``{"namespace": …, "period" | "window": …}``: neither a student (which has ``events``) nor
    an envelope of students."""
    return (isinstance(document, dict) and "namespace" in document and ("period" in document or "window" in document)
            and "students" not in document and "events" not in document)


class UnknownClass(LookupError):
    """No class of this namespace that the client may see (404)."""


def submit_period(document: dict, report_format: str, idempotency: Idempotency | None) -> Report:
    """Validate the request, read the period's students and create the report (202 upstream)."""
    errors = Problems()
    for key in sorted(set(document) - set(KNOWN_FIELDS)):
        errors[key[:100]] = f"is not a field of a period report; use {', '.join(KNOWN_FIELDS)}"
    namespace = document.get("namespace")
    if not isinstance(namespace, str):
        errors["namespace"] = f"must be a string, not {type_name(namespace)}"
    student_id = document.get("student_id")
    if student_id is not None and (not isinstance(student_id, str) or not student_id.strip()
                                   or "\x00" in student_id or len(student_id) > 1000):
        errors["student_id"] = "must be a student's id (a non-empty string without NUL)"
    label = document.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL_CHARS or "\x00" in label):
        errors["label"] = f"must be a string of at most {MAX_LABEL_CHARS} characters"
    options = document.get("options")
    if isinstance(options, dict) and options.get("window") is not None:
        errors["options.window"] = "a period report's window is its period: give period or window beside namespace"
    raise_if(errors, "period report")
    store.check_namespace(namespace)
    recipients, callback_url, report_options = _envelope(document)
    found = store.find_class(namespace)
    if found is None:
        raise UnknownClass(namespace)
    period = period_from_request(document, found.timezone)
    return make_period_report(found, period, report_format, report_options, owner=current_client(),
                              recipients=recipients, callback_url=callback_url, idempotency=idempotency,
                              label=label, student_id=student_id, period_field="period" if "period" in document else "window")


def make_period_report(found: SchoolClass, period: Period, report_format: str, report_options: ReportOptions, *,
                       owner: str | None, recipients: tuple[str, ...] = (), callback_url: str | None = None,
                       idempotency: Idempotency | None = None, label: str | None = None,
                       student_id: str | None = None, period_field: str = "period") -> Report:
    """The class's report of ``period`` (its students with events then, or ``student_id``), with
    the roster's names beside the ids (names the request gives win), committed and queued;
    :class:`EmptyPeriod` when nobody has events in it."""
    namespace = found.namespace
    students = store.period_students(found, period, student_id)
    if not students:
        who = f"{shown(student_id)[:80]} in {shown(namespace)[:80]}" if student_id else shown(namespace)[:80]
        message = f"{who} has no events in {period.name} ({found.timezone})"
        raise EmptyPeriod(message, {period_field: message})
    options = _with_window(report_options, period)
    if options.timezone is None and found.timezone != "UTC":  # the class's times, unless asked otherwise
        options = replace(options, timezone=found.timezone)
    options = with_roster_names(options, found, {student.student_id for student in students})
    prepared = prepare(students, options, zone(found.timezone))
    _add_changes(found, period, prepared)
    report = create_report(students, report_format, options=options, recipients=recipients, prepared=prepared,
                           callback_url=callback_url, owner=owner, idempotency=idempotency,
                           label=label or f"{namespace} · {period.name} ({found.timezone})")
    db.session.add(ClassReport(report_id=report.id, class_id=found.id, period_start=period.start_us,
                               period_end=period.end_us, student_id=student_id))
    db.session.commit()
    return report


def with_roster_names(options: ReportOptions, found: SchoolClass, student_ids: set[str]) -> ReportOptions:
    """The class roster's names of the report's students as ``student_names`` of the class's
    namespace, under any the options give: the one way names reach a report."""
    names = {student_id: name for student_id, name in names_of(found).items() if student_id in student_ids}
    if not names:
        return options
    given = options.student_names.get(found.namespace, {})
    return replace(options, student_names={**options.student_names, found.namespace: {**names, **given}})


def _add_changes(found, period: Period, prepared: PreparedUpload) -> None:
    """Each student's change from the previous period, in its activity (a period report has one)."""
    previous = period.previous()
    numbers = store.student_numbers(found)
    before = per_student_totals(found.id, previous)
    for student, metrics in zip(prepared.students, prepared.metrics):
        if "activity" in metrics:
            add_change(metrics["activity"], (metrics["events"], metrics["time_on_task_seconds"], metrics["active_days"]),
                       before.get(numbers.get(student.student_id)), previous.name)


def _envelope(document: dict):
    """Recipients, callback URL and options, validated as an upload's envelope would be."""
    errors = Problems()
    options = parse_options(document.get("options"), errors)
    raise_if(errors, "period report")
    upload = parse_upload({"students": [{"student_id": "-", "events": []}],
                           **{key: document[key] for key in ("email", "callback_url") if key in document}},
                          email_available=bool(current_app.config["SMTP_HOST"]),
                          check_callback_url=functools.partial(webhooks.check_submitted, config=current_app.config))
    return upload.recipients, upload.callback_url, options


def _with_window(options: ReportOptions, period: Period) -> ReportOptions:
    return replace(options, window=period.window)
