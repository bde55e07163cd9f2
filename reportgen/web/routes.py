"""Pages: ``/`` upload, ``/reports/<task_id>`` live status, ``/reports`` history."""
from __future__ import annotations

import time
from datetime import timedelta, timezone

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from redis.exceptions import RedisError
from rq import Worker
from rq.utils import as_text, utcparse
from sqlalchemy import orm

from ..auth.clients import current_client
from ..domain.dates import as_utc, iso
from ..domain.submission import SubmissionError
from ..extensions import db
from ..history.store import keep_upload
from ..models import Report, Status, utcnow
from ..pipeline.cancel import discard_report
from ..pipeline.queue import redis_connection, report_queue
from ..pipeline.status import report_status
from ..pipeline.stored import find_report, submission_reports
from ..pipeline.submit import retry_report, submit_upload
from . import present
from .forms import HistoryFilterForm, UploadForm
from .queries import history_query, recent_namespaces, upload_rows

bp = Blueprint("web", __name__)

PER_PAGE = 20
#: How long a report waits in the queue before the page asks whether any worker is listening.
NO_WORKER_AFTER = timedelta(seconds=10)
#: How long one process trusts its last look at the workers (the status page polls every second).
WORKER_LOOK_EVERY = 5.0
#: Page numbers are clamped to 1..MAX_PAGE: the offset of a larger one overflows PostgreSQL's bigint.
MAX_PAGE = 1_000_000
NO_JS_REFRESH_SECONDS = 3
STUDENTS_LISTED = 20

@bp.before_app_request
def _allow_pasted_json_up_to_the_upload_limit() -> None:
    """Pasted JSON is a form field, which Werkzeug caps at ``MAX_FORM_MEMORY_SIZE`` (500 kB);
    let it be as large as an uploaded file. Registered before CSRFProtect, which parses first."""
    if request.blueprint == bp.name:
        request.max_form_memory_size = current_app.config["MAX_CONTENT_LENGTH"]


bp.add_app_template_filter(iso, "iso")
bp.add_app_template_filter(present.when, "when")
bp.add_app_template_filter(present.filesize, "filesize")
bp.add_app_template_filter(present.duration, "duration")


@bp.app_context_processor
def _present():
    return {"present": present}


@bp.route("/", methods=["GET", "POST"])
def upload():
    form = UploadForm()
    if request.method == "GET":
        if request.args.get("example") == "1":
            form.fill_example()
        return render_template("web/upload.html", form=form)
    if form.validate():
        try:
            upload = form.upload()
            if form.keep.data:
                keep_upload(upload.students)
        except SubmissionError as exc:
            db.session.rollback()
            if form.problem is None:
                form.refuse(exc)
        else:
            reports = submit_upload(upload.students, form.selected_formats(), form.label.data or upload.label,
                                    upload.recipients, upload.options, owner=current_client(), source=form.source)
            return redirect(url_for(".status", task_id=reports[0].id), code=303)
    return render_template("web/upload.html", form=form), 400


def _report_or_404(task_id: str, *loader_options) -> Report:
    report = find_report(task_id, *loader_options)
    if report is None:
        abort(404, description=f"There is no report with the task id {task_id!r}.")
    return report


def _worker_listening() -> bool:
    """Whether some worker on the report queue has heartbeaten within ``REPORTGEN_STALE_AFTER``
    (an idle worker heartbeats at least that often; a killed one stays registered until its
    registration expires, minutes later, so registration alone is not enough).

    Two Redis round trips (the registry's members, then their heartbeats), made at most every
    ``WORKER_LOOK_EVERY`` seconds per app (process) however many pages poll; when Redis cannot tell,
    the answer is yes, so the page says nothing rather than something wrong."""
    seen_at, listening = current_app.extensions.get("reportgen.worker_look", (float("-inf"), True))
    if time.monotonic() - seen_at < WORKER_LOOK_EVERY:
        return listening
    try:
        keys = sorted(Worker.all_keys(queue=report_queue()))
        with redis_connection().pipeline(transaction=False) as pipeline:
            for key in keys:
                pipeline.hget(key, "last_heartbeat")
            beats = pipeline.execute() if keys else []
        fresh = utcnow() - timedelta(seconds=current_app.config["REPORTGEN_STALE_AFTER"])
        listening = any(beat and utcparse(as_text(beat)).replace(tzinfo=timezone.utc) >= fresh for beat in beats)
    except (RedisError, RuntimeError, ValueError):
        listening = True
    current_app.extensions["reportgen.worker_look"] = (time.monotonic(), listening)
    return listening


def _no_worker(reports: list[Report]) -> bool:
    """A report of the submission has waited ``NO_WORKER_AFTER`` in the queue and no worker is
    listening. Redis is asked only then, not on every poll of every page."""
    waited_since = utcnow() - NO_WORKER_AFTER
    return any(r.status == Status.PENDING.value and as_utc(r.created_at) <= waited_since for r in reports) and (
        not _worker_listening())


def _status_context(report: Report) -> dict:
    reports = submission_reports(report)
    return {
        "report": report,
        "reports": reports,
        "done": all(r.is_done for r in reports),
        "summary": present.summary(reports),
        "page_title": present.title(reports),
        "no_worker": _no_worker(reports),
        "students_listed": STUDENTS_LISTED,
    }


@bp.get("/reports/<task_id>")
def status(task_id: str):
    context = _status_context(_report_or_404(task_id))
    return render_template("web/status.html", refresh_seconds=NO_JS_REFRESH_SECONDS, **context)


@bp.get("/reports/<task_id>/status.json")
def status_json(task_id: str):
    """What the status page's script polls: the API's status of each report of the submission,
    plus the server-rendered cards so the page shows exactly what a reload would."""
    context = _status_context(_report_or_404(task_id))
    response = jsonify(
        task_id=task_id,
        done=context["done"],
        summary=context["summary"],
        title=f"{context['page_title']} · reportgen",
        reports=[report_status(r) for r in context["reports"]],
        no_worker=context["no_worker"],
        html=render_template("web/_reports.html", **context),
        students_html=render_template("web/_students.html", **context),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/reports/<task_id>/retry")
def retry(task_id: str):
    """Queue the stored input of a failed report again, as a new report of the same format,
    which belongs to the same client (a token's report stays that token's)."""
    report = _report_or_404(task_id, orm.undefer(Report.input_json))
    if report.status not in (Status.FAILURE.value, Status.CANCELED.value):
        flash("Only a failed or canceled report can be tried again.", "info")
        return redirect(url_for(".status", task_id=task_id), code=303)
    if report.purged_at is not None:
        flash("This report's data has been deleted, so it cannot be tried again; upload it anew.", "info")
        return redirect(url_for(".status", task_id=task_id), code=303)
    new = retry_report(report, owner=current_client())
    flash("Queued again as a new report.", "success")
    return redirect(url_for(".status", task_id=new.id), code=303)


DISCARDED = {
    "canceled": "Canceled: nothing more of this report will be made. You can still delete its data or try it again.",
    "deleted": "Deleted: the uploaded data and the documents are gone; only this record of the report is left.",
    None: "This report's data had already been deleted.",
}


@bp.post("/reports/<task_id>/discard")
def discard(task_id: str):
    """The status page's Cancel (a report still being made) and Delete (a finished one's
    data): the API's ``DELETE``, through the same service."""
    report = _report_or_404(task_id)
    flash(DISCARDED[discard_report(report)], "success")
    return redirect(url_for(".status", task_id=task_id), code=303)


@bp.get("/reports")
def history():
    form = HistoryFilterForm(request.args)
    filters = form.active
    page_number = min(max(1, request.args.get("page", 1, type=int)), MAX_PAGE)
    page = db.paginate(history_query(filters), page=page_number, per_page=PER_PAGE, error_out=False)
    return render_template("web/history.html", form=form, filters=filters, page=page, uploads=upload_rows(page.items),
                           now=utcnow(), namespaces=recent_namespaces())


@bp.get("/example.json")
def example():
    """The example data that the upload page's "Try it with example data" fills in: a fixed
    file, as JSON that no browser sniffs or runs."""
    path = UploadForm.example_path()
    if path is None:
        abort(404, description="This installation has no example data.")
    response = send_file(path, mimetype="application/json", max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)
