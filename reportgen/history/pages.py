"""The pages of class histories: ``/classes`` lists the caller's classes, ``/classes/<namespace>``
shows one (its students, its months as an activity strip, a report for a month, adding events,
its time zone, erasing a student behind a confirmation).

Every change is a POST with the form's CSRF token, answered with a redirect (303) and a message;
a class the caller may not see is 404, as in the API (the same :mod:`.store` lookups). The pages
call what the API calls: :func:`.store.append`, :func:`.reports.submit_period`,
:func:`.store.erase_student`, :func:`.rollup.rebuild_class`, so the two cannot drift apart.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from ..domain.periods import zone_names
from ..domain.submission import SubmissionError
from ..extensions import db
from ..models import SchoolClass
from ..pipeline.submit import QueueUnavailable
from ..subscriptions.store import reschedule_class
from ..web.forms import AddEventsForm, ClassReportForm, EraseStudentForm, TimezoneForm
from . import rollup, store
from .reports import EmptyPeriod, submit_period

bp = Blueprint("class_pages", __name__, url_prefix="/classes")


def _class_or_404(namespace: str) -> SchoolClass:
    found = store.find_class(namespace)
    if found is None:
        abort(404, description="There is no class with this namespace.")
    return found


@bp.get("")
def index():
    return render_template("classes/index.html", classes=[store.class_summary(found) for found in store.list_classes()])


def _months(found: SchoolClass) -> list[dict]:
    months = store.events_per_month(found)
    most = max((month["events"] for month in months), default=0)
    for month in months:
        month["height"] = 0 if not most else max(2, round(40 * month["events"] / most)) if month["events"] else 0
    return months


def _forms(found: SchoolClass, months: list[dict], report_form=None, events_form=None, zone_form=None):
    report_form = report_form or ClassReportForm(formdata=None)
    report_form.period.choices = [(month["month"], month["month"]) for month in reversed(months) if month["events"]]
    events_form = events_form or AddEventsForm(formdata=None)
    zone_form = zone_form or TimezoneForm(formdata=None, timezone=found.timezone)
    zone_form.timezone.choices = [(name, name.replace("_", " ")) for name in zone_names()]
    return {"report_form": report_form, "events_form": events_form, "zone_form": zone_form}


def _page(found: SchoolClass, status: int = 200, **forms):
    months = _months(found)
    return render_template("classes/show.html", found=found, summary=store.class_summary(found), months=months,
                           students=store.students_of(found),
                           **_forms(found, months, **forms)), status


@bp.get("/<path:namespace>")
def show(namespace: str):
    return _page(_class_or_404(namespace))


@bp.post("/<path:namespace>/events")
def add_events(namespace: str):
    """The upload page's form handling, into this class: all or nothing, duplicates counted."""
    found = _class_or_404(namespace)
    form = AddEventsForm()
    if form.validate():
        try:
            upload = form.upload()
            store.check_storable(upload.students, found.namespace)
            appended = store.append(found.namespace, upload.students)
        except SubmissionError as exc:
            db.session.rollback()
            form.refuse(exc)
        else:
            db.session.commit()
            flash(f"Added {appended.added:,} events ({appended.received - appended.added:,} were stored already).",
                  "success")
            return redirect(url_for(".show", namespace=found.namespace), code=303)
    return _page(found, 400, events_form=form)


@bp.post("/<path:namespace>/reports")
def make_report(namespace: str):
    """A report of a month in each chosen format; the status page of the first follows."""
    found = _class_or_404(namespace)
    months = _months(found)
    form = ClassReportForm()
    _forms(found, months, report_form=form)
    if not form.validate():
        return _page(found, 400, report_form=form)
    reports = []
    try:
        for report_format in form.selected_formats():
            reports.append(submit_period({"namespace": found.namespace, "period": form.period.data}, report_format,
                                         None))
    except EmptyPeriod as exc:
        form.period.errors = [exc.message]
        return _page(found, 422, report_form=form)
    except QueueUnavailable as exc:
        reports.append(exc.report)
    return redirect(url_for("web.status", task_id=reports[0].id), code=303)


@bp.post("/<path:namespace>/timezone")
def set_timezone(namespace: str):
    found = _class_or_404(namespace)
    form = TimezoneForm()
    _forms(found, [], zone_form=form)
    if not form.validate():
        return _page(found, 400, zone_form=form)
    if form.timezone.data != found.timezone:
        found.timezone = form.timezone.data
        rollup.rebuild_class(found)
        reschedule_class(found)
        db.session.commit()
    flash(f"Periods of {found.namespace} are now months and weeks in {found.timezone.replace('_', ' ')}.", "success")
    return redirect(url_for(".show", namespace=found.namespace), code=303)


@bp.route("/<path:namespace>/students/<path:student_id>/erase", methods=["GET", "POST"])
def erase_student(namespace: str, student_id: str):
    """GET asks to confirm; POST (with the form's token) erases the student's stored events."""
    found = _class_or_404(namespace)
    student = next((row for row in store.students_of(found) if row.student_id == student_id), None)
    if student is None:
        abort(404, description="This class has no student with this id.")
    form = EraseStudentForm()
    if form.validate_on_submit():
        erased = store.erase_student(found, student_id)
        flash(f"Erased {student_id}: {erased:,} stored events.", "success")
        return redirect(url_for(".show", namespace=found.namespace), code=303)
    return render_template("classes/erase.html", found=found, student=student, form=form)

