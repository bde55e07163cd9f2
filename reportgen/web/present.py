"""Words, numbers and links for the pages: one place for how a report is described to people."""
from __future__ import annotations

from datetime import datetime, timezone

from ..domain.dates import as_utc, day_month, when
from ..domain.options import options_from_dict
from ..domain.periods import from_microseconds, zone
from ..domain.report_data import option_lines as describe_options
from ..models import Delivery, DeliveryStatus, Report, Status
from ..pipeline.status import expires_at, gone_message, status_path, student_path

STATE_WORDS = {
    Status.PENDING.value: "Queued",
    Status.STARTED.value: "Rendering",
    Status.SUCCESS.value: "Done",
    Status.FAILURE.value: "Failed",
    Status.CANCELED.value: "Canceled",
}


def short_when(moment: datetime | None, now: datetime | None = None) -> str:
    """A time in a list, in UTC: ``23 Nov 14:05``, with the year when it is not this year's
    (``23 Nov 2025 14:05``); the page gives the full time as the element's title."""
    moment, now = as_utc(moment), as_utc(now) or datetime.now(timezone.utc)
    if moment is None:
        return ""
    moment = moment.astimezone(timezone.utc)
    return f"{day_month(moment, year=moment.year != now.year)} {moment:%H:%M}"


def local_date(microseconds: int | None, timezone_name: str) -> str:
    """A stored event's time as its date in a class's zone (``2024-12-01``), blank for none."""
    if microseconds is None:
        return ""
    return from_microseconds(microseconds).astimezone(zone(timezone_name)).date().isoformat()


def filesize(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1000:
        return f"{size} bytes"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
    return ""  # pragma: no cover


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def time_taken(report: Report) -> float | None:
    """From submission to finished, queue wait included: what the person waited."""
    created, finished = as_utc(report.created_at), as_utc(report.finished_at)
    if created is None or finished is None:
        return None
    return max(0.0, (finished - created).total_seconds())


def finishing(report: Report) -> bool:
    """Every student is done but the report is not: its last step puts the document together."""
    total = report.progress_total or 0
    return (report.status in (Status.PENDING.value, Status.STARTED.value) and total > 0
            and (report.progress_current or 0) >= total)


def state_word(report: Report) -> str:
    if finishing(report):
        return "Finishing"
    return STATE_WORDS.get(report.status, report.status.title())


def all_of(count: int) -> str:
    """``both`` or ``all 3``: never "all 2"."""
    return "both" if count == 2 else f"all {count}"


def action_label(report: Report) -> str:
    return "View HTML" if report.format == "html" else f"Download {report.format.upper()}"


def download_url(report: Report, bom: bool = False, table: str | None = None) -> str:
    """Where the report's file is; ``bom``: a CSV with a byte-order mark, which Excel needs to
    read UTF-8 (without it, names in other scripts come out garbled); ``table``: a CSV
    report's summary table (``students``, ``units``) instead of its event log."""
    query = [*([f"table={table}"] if table else []), *(["bom=1"] if bom else [])]
    return status_path(report) + ("?" + "&".join(query) if query else "")


def bundle_url(report: Report) -> str:
    """Every student's own document of the report in one ZIP."""
    return status_path(report) + "?bundle=zip"


def student_documents(reports: list[Report]) -> tuple[Report | None, set[int]]:
    """The finished report whose per-student documents the student chips link to (the first in
    format order, so HTML, which opens in the browser, when there is one) and the positions of
    the students it has a document of."""
    for report in reports:
        if report.status == Status.SUCCESS.value and report.purged_at is None and report.summary:
            return report, {student["position"] for student in report.summary.get("students", ())
                            if student["status"] == Status.SUCCESS.value}
    return None, set()


def student_link(report: Report, position: int) -> str:
    """Where one student's own document of the report is (the API's per-student download)."""
    return student_path(report, position)


def percent(report: Report) -> int:
    if report.status == Status.SUCCESS.value:
        return 100
    total = report.progress_total or 0
    return round(100 * (report.progress_current or 0) / total) if total else 0


def summary(reports: list[Report]) -> str:
    """One sentence on where a submission stands (read out by screen readers as it changes)."""
    count = len(reports)
    if all(r.purged_at is not None for r in reports):
        return "Deleted: this report is no longer available." if count == 1 else (
            f"Deleted: these {count} reports are no longer available.")
    failed = sum(r.status == Status.FAILURE.value for r in reports)
    canceled = sum(r.status == Status.CANCELED.value for r in reports)
    ready = sum(r.status == Status.SUCCESS.value for r in reports)
    if ready == count:
        return "Done: your report is ready." if count == 1 else f"Done: {all_of(count)} reports are ready."
    if canceled == count:
        return "Canceled: the report was stopped before it finished." if count == 1 else (
            f"Canceled: {all_of(count)} reports were stopped before they finished.")
    if failed == count:
        return "The report failed." if count == 1 else f"{all_of(count).capitalize()} reports failed."
    if ready + failed + canceled == count:
        phrases = [f"{failed} of {count} reports failed"] if failed else []
        if canceled:
            were = "was" if canceled == 1 else "were"
            phrases.append(f"{canceled} {were} canceled" if failed else f"{canceled} of {count} reports {were} canceled")
        return f"Finished: {' and '.join(phrases)}."
    unfinished = [r for r in reports if not r.is_done]
    if all(r.status == Status.PENDING.value for r in unfinished):
        return "Queued: waiting for a worker to pick up the job…"
    if unfinished and all(finishing(r) for r in unfinished):
        if count == 1:
            return "Finishing: putting the report together…"
        if len(unfinished) == 1:
            return f"Finishing: putting the {unfinished[0].format.upper()} report together…"
        return "Finishing: putting the reports together…"
    if count == 1:
        report = reports[0]
        return f"Rendering… {report.progress_current or 0} of {report.progress_total} students done."
    return f"Rendering… {ready + failed + canceled} of {count} reports finished."


def title(reports: list[Report]) -> str:
    """The status page's title (without the site name), the label after the state."""
    if all(r.is_done for r in reports):
        failed = sum(r.status == Status.FAILURE.value for r in reports)
        canceled = sum(r.status == Status.CANCELED.value for r in reports)
        state = ("Ready" if not failed and not canceled else "Failed" if failed == len(reports)
                 else "Canceled" if canceled == len(reports) else "Finished with errors")
    else:
        state = "Working…"
    label = reports[0].label if reports else None
    return f"{state}: {label}" if label else state


def student_preview(report: Report, limit: int = 3) -> tuple[list[str], int]:
    ids = list(report.student_ids or [])
    return ids[:limit], max(0, len(ids) - limit)


def delivery_state(delivery: Delivery) -> str:
    """One email's or webhook's state in plain words."""
    webhook = delivery.is_webhook
    if delivery.status == DeliveryStatus.SENT.value:
        if not webhook:
            return f"sent {when(delivery.sent_at)}"
        answered = f" (HTTP {delivery.status_code})" if delivery.status_code else ""
        return f"webhook delivered {when(delivery.sent_at)}{answered}"
    prefix = "webhook " if webhook else ""
    if delivery.status == DeliveryStatus.QUEUED.value:
        retrying = f" ({delivery.error}; retrying)" if delivery.error else ""
        return prefix + "waiting to be sent" + retrying
    if delivery.status == DeliveryStatus.SKIPPED.value and not webhook:
        return "not sent: " + (delivery.error or "the report failed")
    attempts = f"{delivery.attempts} attempt{'s' if delivery.attempts != 1 else ''}"
    return f"{prefix}not delivered after {attempts}: {delivery.error}"


def option_lines(report: Report) -> tuple[str, ...]:
    """What the data was read as and the options the report was made with, in the words the
    report itself uses."""
    return describe_options(options_from_dict(report.options), report.events_left_out or 0, report.input)


def expires(report: Report):
    """When a finished report's data will be deleted by retention (None: kept for ever)."""
    return expires_at(report)


def gone(report: Report) -> str:
    """Why a purged report's documents are gone (the API's 410 message)."""
    return gone_message(report)
