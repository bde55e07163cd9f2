"""The pages of class histories: ``/classes`` lists the caller's classes, ``/classes/<namespace>``
shows one (its students, its months as an activity strip, a report for a month, adding events,
its time zone, erasing a student behind a confirmation).

Every change is a POST with the form's CSRF token, answered with a redirect (303) and a message;
a class the caller may not see is 404, as in the API (the same :mod:`.store` lookups). The pages
call what the API calls: :func:`.store.append`, :func:`.reports.submit_period`,
:func:`.store.erase_student`, :func:`.rollup.rebuild_class`, so the two cannot drift apart.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..domain.periods import zone_names
from ..domain.submission import SubmissionError
from ..extensions import db
from ..models import SchoolClass
from ..pipeline.submit import QueueUnavailable
from ..auth.clients import current_client
from ..domain.roster import parse_roster, read_roster_csv
from ..subscriptions import store as subscriptions
from ..subscriptions.store import reschedule_class
from ..web.forms import AddEventsForm, ClassReportForm, EraseStudentForm, RosterForm, SubscriptionForm, TimezoneForm
from . import rollup, store
from .reports import EmptyPeriod, submit_period
from .roster import names_of, replace_roster, roster_of

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


def _forms(found: SchoolClass, months: list[dict], report_form=None, events_form=None, zone_form=None,
           subscription_form=None, roster_form=None):
    report_form = report_form or ClassReportForm(formdata=None)
    report_form.period.choices = [(month["month"], month["month"]) for month in reversed(months) if month["events"]]
    events_form = events_form or AddEventsForm(formdata=None)
    zone_form = zone_form or TimezoneForm(formdata=None, timezone=found.timezone)
    zone_form.timezone.choices = [(name, name.replace("_", " ")) for name in zone_names()]
    return {"report_form": report_form, "events_form": events_form, "zone_form": zone_form,
            "subscription_form": subscription_form or SubscriptionForm(formdata=None),
            "roster_form": roster_form or RosterForm(formdata=None)}


def _subscriptions(found: SchoolClass) -> list[dict]:
    listed = subscriptions.listed(found.id)
    last = subscriptions.last_runs([subscription.id for subscription in listed])
    return [subscriptions.subscription_dict(subscription, last.get(subscription.id)) for subscription in listed]


def _students(found: SchoolClass) -> list[dict]:
    """The class's students with their roster names; ``?sort=name`` sorts by name (unnamed last)."""
    names = names_of(found)
    rows = [{"row": row, "name": names.get(row.student_id, "")} for row in store.students_of(found)]
    if request.args.get("sort") == "name":
        rows.sort(key=lambda entry: (not entry["name"], entry["name"].casefold(), entry["row"].student_id))
    return rows


def _page(found: SchoolClass, status: int = 200, **forms):
    months = _months(found)
    roster = roster_of(found)
    return render_template("classes/show.html", found=found, summary=store.class_summary(found), months=months,
                           students=_students(found), subscriptions=_subscriptions(found),
                           roster_size=len(roster), roster_emails=sum(1 for entry in roster if entry.email),
                           sort=request.args.get("sort", ""), **_forms(found, months, **forms)), status


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



def _subscription_or_404(found: SchoolClass, subscription_id: int):
    subscription = subscriptions.find(subscription_id)
    if subscription is None or subscription.class_id != found.id:
        abort(404, description="This class has no subscription with this number.")
    return subscription


def _back(found: SchoolClass):
    return redirect(url_for(".show", namespace=found.namespace) + "#subscriptions-heading", code=303)


@bp.post("/<path:namespace>/subscriptions")
def subscribe(namespace: str):
    """A new subscription from the class page: the API's rules, each problem under its field."""
    found = _class_or_404(namespace)
    form = SubscriptionForm()
    if form.validate():
        try:
            fields = subscriptions.checked_fields({"namespace": found.namespace, **form.document()})
        except SubmissionError as exc:
            form.refuse(exc)
        else:
            created = subscriptions.create(found, fields, current_client())
            flash(f"Subscribed: {_said(created)}.", "success")
            return _back(found)
    return _page(found, 400, subscription_form=form)


def _said(subscription) -> str:
    shown = subscriptions.subscription_dict(subscription)
    when = shown["next_run"][:16].replace("T", " ") if shown["next_run"] else "paused"
    return f"every {subscription.every}, next run {when} ({shown['timezone'].replace('_', ' ')}) for {shown['next_period']}"


@bp.route("/<path:namespace>/subscriptions/<int:subscription_id>", methods=["GET", "POST"])
def edit_subscription(namespace: str, subscription_id: int):
    found = _class_or_404(namespace)
    subscription = _subscription_or_404(found, subscription_id)
    form = SubscriptionForm(obj=None) if request.method == "POST" else SubscriptionForm(
        formdata=None, every=subscription.every, day=subscription.day, time=subscription.time,
        formats=subscription.formats, recipients="\n".join(subscription.recipients), students=subscription.students,
        skip_if_empty=subscription.skip_if_empty)
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                subscriptions.change(subscription, form.document())
            except SubmissionError as exc:
                db.session.rollback()
                form.refuse(exc)
            else:
                flash(f"Saved: {_said(subscription)}.", "success")
                return _back(found)
        status = 400
    runs = subscriptions.runs_of(subscription.id, 20)
    return render_template("classes/subscription.html", found=found, subscription=subscription, form=form,
                           runs=[subscriptions.run_dict(run, found.timezone) for run in runs]), status


@bp.post("/<path:namespace>/subscriptions/<int:subscription_id>/run")
def send_now(namespace: str, subscription_id: int):
    """"Send now": the last whole period's run, unless it has one."""
    found = _class_or_404(namespace)
    subscription = _subscription_or_404(found, subscription_id)
    period = subscriptions.last_whole_period(subscription)
    if subscriptions.run_now(subscription, period) is None:
        flash(f"The {period} run was made already; see its emails below.", "error")
    else:
        flash(f"Making the {period} reports now; the emails follow when they are ready.", "success")
    return _back(found)


@bp.post("/<path:namespace>/subscriptions/<int:subscription_id>/pause")
def pause(namespace: str, subscription_id: int):
    """Pause a subscription, or resume it (from now on: what was skipped is not caught up)."""
    found = _class_or_404(namespace)
    subscription = _subscription_or_404(found, subscription_id)
    subscriptions.change(subscription, {"paused": not subscription.paused})
    flash("Paused." if subscription.paused else f"Resumed: {_said(subscription)}.", "success")
    return _back(found)


@bp.post("/<path:namespace>/subscriptions/<int:subscription_id>/delete")
def unsubscribe(namespace: str, subscription_id: int):
    found = _class_or_404(namespace)
    db.session.delete(_subscription_or_404(found, subscription_id))
    db.session.commit()
    flash("The subscription is deleted; its reports stay.", "success")
    return _back(found)


@bp.post("/<path:namespace>/roster")
def upload_roster(namespace: str):
    """Replace the roster with a CSV file (student_id, name, email), as ``PUT …/roster`` does."""
    found = _class_or_404(namespace)
    form = RosterForm()
    if form.validate():
        if not form.file.data:
            form.file.errors = ["Choose a CSV file with the columns student_id, name and email."]
        else:
            try:
                entries = parse_roster(read_roster_csv(form.file.data.read()))
            except SubmissionError as exc:
                form.file.errors = [f"{path}: {reason}" for path, reason in list(exc.details.items())[:10]]
            else:
                replace_roster(found, entries)
                db.session.commit()
                flash(f"The roster has {len(entries):,} students now.", "success")
                return redirect(url_for(".show", namespace=found.namespace) + "#roster-heading", code=303)
    return _page(found, 400, roster_form=form)
