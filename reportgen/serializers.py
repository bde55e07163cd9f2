"""JSON views of a report row, shared by the API and the status page."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from flask import current_app, url_for
from sqlalchemy import select

from .extensions import db
from .models import Delivery, Report, ReportItem, Status, as_utc


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC."""
    moment = as_utc(moment)
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_month(moment: datetime, year: bool = True) -> str:
    """``23 Nov 2026`` (``23 Nov`` without the year) of a UTC time, the same in every locale."""
    return f"{moment.day} {MONTHS[moment.month - 1]}" + (f" {moment.year}" if year else "")


def when(moment: datetime | None) -> str:
    """A time for people: ``2026-11-23 17:01 UTC`` (empty for none)."""
    moment = as_utc(moment)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


SLUG_LENGTH = 60
#: A word of a download name that is the task id's first 8 characters (every name ends with one,
#: before the format for a ZIP), which keeps two reports' downloads of the same student or label
#: from overwriting each other.
TASK_ID_WORD = re.compile(r"[0-9a-f]{8}")


def slug(text: str) -> str:
    """ASCII-safe for every browser and file system (accents dropped: Zoë → Zoe)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-._")[:SLUG_LENGTH] or "student"


def file_name(text: str) -> str:
    """The text as a file name in any script, minus what file systems forbid."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', "-", text).strip(" .-")[:80] or "student"


def ascii_name(filename: str) -> str:
    """The ASCII fallback of a download name, word by word (words are what ``-`` separates): a
    word in another script says ``student``, and what is too long is cut before the task-id word,
    so that word survives (``0001-王小明-3f0c1a2b.pdf`` → ``0001-student-3f0c1a2b.pdf``)."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    words = [slug(word) for word in stem.split("-") if word.strip()]
    ids = [index for index, word in enumerate(words) if TASK_ID_WORD.fullmatch(word)]
    cut = ids[-1] if ids else len(words)
    tail = "".join(f"-{word}" for word in words[cut:])
    head = "-".join(words[:cut])[:max(1, SLUG_LENGTH - len(tail))].strip("-._")
    return (f"{head}{tail}" if head else tail.lstrip("-") or "student") + (f".{slug(extension)}" if dot else "")


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients, ``filename*`` in UTF-8 when it differs."""
    fallback = ascii_name(filename)
    header = f'{disposition}; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def download_name(report: Report) -> str:
    """``report-<student or N-students>-<id8>.<format>``."""
    subject = report.student_ids[0] if report.student_count == 1 else f"{report.student_count}-students"
    return f"report-{slug(subject)}-{report.id[:8]}.{report.format}"


def attachment_name(report: Report) -> str:
    """An emailed document's name: ``<label>-<id8>.<format>`` from the submission's label, in
    its own script (its ASCII fallback is the download's, :func:`content_disposition`), else
    :func:`download_name`."""
    label = re.sub(r"\W+", "-", unicodedata.normalize("NFC", report.label or "")).strip("-_")[:60].strip("-_")
    return f"{label}-{report.id[:8]}.{report.format}" if label else download_name(report)


def student_download_name(report: Report, position: int, student_id: str) -> str:
    """``0001-<student id>-<id8>.<format>``: sorts in upload order inside a ZIP; the task id
    keeps the same student's documents of two reports apart in one downloads folder."""
    return f"{position + 1:04d}-{file_name(student_id)}-{report.id[:8]}.{report.format}"


def student_url(report: Report, position: int) -> str:
    return url_for("api.student_document", report_format=report.format, task_id=report.id, position=position)


def status_url(report: Report) -> str:
    return url_for("api.report_status", report_format=report.format, task_id=report.id)


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
        "options": report.options,
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
