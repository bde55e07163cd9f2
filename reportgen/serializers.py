"""JSON views of a report row, shared by the API and the status page."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import url_for

from .models import Report, Status


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes, which are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def download_name(report: Report) -> str:
    """``report-<student or N-students>-<id8>.<format>``, ASCII-safe for every browser."""
    subject = report.student_ids[0] if report.student_count == 1 else f"{report.student_count}-students"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", subject).strip("-._")[:60] or "student"
    return f"report-{slug}-{report.id[:8]}.{report.format}"


def status_url(report: Report) -> str:
    return url_for("api.report_status", report_format=report.format, task_id=report.id)


def report_status(report: Report) -> dict:
    """What a polling client needs: state, progress and where to look next."""
    total = report.progress_total or 0
    body = {
        "task_id": report.id,
        "format": report.format,
        "status": report.status,
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
    }
    if report.status == Status.FAILURE.value:
        body["error"] = report.error
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
        sequences=report.sequences,
    )
    return body
