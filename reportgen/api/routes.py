"""Submit, sequence, poll and download reports."""
from __future__ import annotations

from flask import Response, abort, jsonify, request

from ..domain.sequencing import sequence_response
from ..domain.submission import Student, parse_text
from ..errors import error_response
from ..extensions import db
from ..models import FORMATS, Report, Status
from ..serializers import download_name, report_metadata
from ..serializers import report_status as report_status_body
from ..services import QueueUnavailable, create_report
from . import bp

JSON_TYPES = ("application/json",)


def _is_json_type(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def students_from_request() -> list[Student]:
    """Validate the body: 415 unless JSON, 413 if too large, 400 with field paths if invalid."""
    if not _is_json_type(request.mimetype):
        abort(415, description=(
            f"send the submission as Content-Type: application/json (got {request.mimetype or 'none'})"
        ))
    return parse_text(request.get_data(cache=False))


@bp.post("/sequence")
def sequence():
    return jsonify(sequence_response(students_from_request()))


@bp.post("/<report_format>")
def submit(report_format: str):
    if report_format not in FORMATS:
        abort(404, description=f"unknown report format {report_format!r}; use one of: {', '.join(FORMATS)}")
    students = students_from_request()
    try:
        report = create_report(students, report_format)
    except QueueUnavailable as exc:
        response = error_response(503, str(exc), {"task_id": exc.report.id})
        response.headers["Retry-After"] = "30"
        return response
    body = report_status_body(report)
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["status_url"]
    return response


def _wants_metadata(report: Report) -> bool:
    best = request.accept_mimetypes.best_match([report.content_type.split(";")[0], "application/json"])
    return best == "application/json"


@bp.get("/<report_format>/<task_id>")
def report_status(report_format: str, task_id: str):
    report = db.session.get(Report, task_id) if len(task_id) <= 36 else None
    if report is None or report.format != report_format:
        abort(404, description=f"no {report_format} report with task id {task_id!r}")
    if report.status in (Status.PENDING.value, Status.STARTED.value):
        response = jsonify(report_status_body(report))
        response.status_code = 202
        response.headers["Retry-After"] = "1"
        return response
    if report.status == Status.FAILURE.value:
        response = jsonify(report_status_body(report))
        response.status_code = 500
        return response
    if _wants_metadata(report):
        return jsonify(report_metadata(report))
    return download(report)


def download(report: Report) -> Response:
    """The stored bytes: HTML inline, PDF as an attachment, both cacheable by their sha256."""
    disposition = "inline" if report.format == "html" else "attachment"
    response = Response(report.content, content_type=report.content_type)
    response.headers["Content-Disposition"] = f'{disposition}; filename="{download_name(report)}"'
    response.set_etag(report.sha256)
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response.make_conditional(request)
