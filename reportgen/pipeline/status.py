"""JSON views of a report row, shared by the API, the status page and the webhook's body.

Their links are absolute, so that an integrator can follow one as it is (also from a webhook's
body, which has no request to resolve it against): ``REPORTGEN_PUBLIC_URL`` when it is set (the
address people reach this server at, behind whatever proxy), else the submit's own host and path
prefix. A worker has no request: it builds a webhook's links under the setting if it has one, else
under the address the report was submitted to, which the submit records (``Report.base_url``).
Pages link relatively (:func:`status_path`, :func:`student_path`).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request, url_for
from sqlalchemy import select

from ..domain.dates import iso, when
from ..domain.filenames import download_name
from ..extensions import db
from ..models import Delivery, Report, ReportItem, Status


def public_base() -> str:
    """Where absolute links start (no trailing slash): ``REPORTGEN_PUBLIC_URL``, else the request's
    scheme, host and path prefix; in a worker (``g.link_base``, set by the webhook's sender) the
    address the report was submitted to; empty (links stay relative) when there is none."""
    configured = current_app.config["REPORTGEN_PUBLIC_URL"]
    if configured or not has_request_context():
        return configured
    if "link_base" in g:
        return g.link_base
    return request.url_root.rstrip("/")


def absolute(path: str) -> str:
    """``path`` (as ``url_for`` makes it, under the request's path prefix) under :func:`public_base`."""
    if has_request_context() and request.script_root and path.startswith(request.script_root):
        path = path[len(request.script_root):]
    return public_base() + path


def student_path(report: Report, position: int) -> str:
    return url_for("api.student_document", report_format=report.format, task_id=report.id, position=position)


def status_path(report: Report) -> str:
    return url_for("api.report_status", report_format=report.format, task_id=report.id)


def student_url(report: Report, position: int) -> str:
    return absolute(student_path(report, position))


def status_url(report: Report) -> str:
    return absolute(status_path(report))


def status_page_url(report: Report) -> str:
    """The status page of the upload ``report`` belongs to (every report of one submit on it)."""
    return absolute(url_for("web.status", task_id=report.id))


def expires_at(report: Report) -> datetime | None:
    """When a finished report's input and documents are deleted (``REPORTGEN_RETENTION_DAYS``
    after it finished; never when that is 0); when they were, for a purged one."""
    if report.purged_at is not None:
        return report.purged_at
    days = current_app.config["REPORTGEN_RETENTION_DAYS"]
    if report.finished_at is None or days <= 0:
        return None
    return report.finished_at + timedelta(days=days)


def gone_message(report: Report) -> str:
    """Why a purged report's documents cannot be had, in plain words (the 410's message)."""
    deleted = when(report.purged_at)
    if report.purge_reason == "expired":
        return (f"this report's data was deleted on {deleted}: reports are kept "
                f"{current_app.config['REPORTGEN_RETENTION_DAYS']} days after they finish; submit the data again")
    return f"this report's data was deleted on {deleted} at its owner's request"


def delivery_state(delivery: Delivery) -> dict:
    """An email's or a webhook's state, as the status JSON lists it."""
    if delivery.is_webhook:
        return {"kind": delivery.kind, "url": delivery.recipient, "status": delivery.status,
                "attempts": delivery.attempts, "status_code": delivery.status_code, "error": delivery.error,
                "delivered_at": iso(delivery.sent_at)}
    return {"kind": delivery.kind, "recipient": delivery.recipient, "status": delivery.status,
            "attempts": delivery.attempts, "error": delivery.error, "sent_at": iso(delivery.sent_at)}


def report_status(report: Report) -> dict:
    """What a polling client needs: state, progress and where to look next."""
    total = report.progress_total or 0
    body = {
        "task_id": report.id,
        "request_id": report.request_id,
        "format": report.format,
        "status": report.status,
        "label": report.label,
        "progress": {
            "current": report.progress_current or 0,
            "total": total,
            "percent": round(100 * (report.progress_current or 0) / total) if total else 0,
        },
        "status_url": status_url(report),
        "student_count": report.student_count,
        "event_count": report.event_count,
        "attempts": report.attempts,
        "created_at": iso(report.created_at),
        "started_at": iso(report.started_at),
        "finished_at": iso(report.finished_at),
        "options": report.options,
        "input": report.input,
        "events_left_out": report.events_left_out or 0,
        "warnings": report.warnings or [],
        "expires_at": iso(expires_at(report)),
    }
    if report.purged_at is not None:
        body["purged_at"] = iso(report.purged_at)
        body["purge_reason"] = report.purge_reason
        body["gone"] = gone_message(report)
    if report.status in (Status.FAILURE.value, Status.CANCELED.value):
        body["error"] = report.error
    if report.deliveries:
        body["deliveries"] = [delivery_state(delivery) for delivery in report.deliveries]
    if report.summary:
        body["summary"] = {
            **{key: report.summary[key] for key in ("total", "succeeded", "failed", "success_rate")},
            "students": [
                {**student, "download_url": student_url(report, student["position"])
                 if student["status"] == Status.SUCCESS.value else None}
                for student in report.summary["students"]
            ],
        }
    return body


def report_outcome(report: Report) -> dict:
    """What a client that asks for a finished report as JSON gets: its metadata when it
    succeeded (and is not deleted), else its status with the error; without the deliveries,
    which are still being made. A webhook's body."""
    if report.status == Status.SUCCESS.value and report.purged_at is None:
        body = report_metadata(report)
    else:
        body = report_status(report)
    body.pop("deliveries", None)
    return body


def report_metadata(report: Report) -> dict:
    """A finished report described instead of downloaded (``Accept: application/json``)."""
    body = report_status(report)
    body.update(
        student_ids=report.student_ids,
        namespaces=report.namespaces,
        content_type=report.content_type,
        size=report.size,
        sha256=report.sha256,
        filename=download_name(report),
        download_url=status_url(report),
        bundle_url=status_url(report) + "?bundle=zip",
        sequences=report.sequences,
        students=[
            {"student_id": student_id, "namespace": namespace, "metrics": metrics}
            for student_id, namespace, metrics in db.session.execute(
                select(ReportItem.student_id, ReportItem.namespace, ReportItem.metrics)
                .where(ReportItem.report_id == report.id).order_by(ReportItem.position)
            )
        ],
        cohort=report.cohorts or {},
    )
    return body

