"""Email an upload's reports: one message per recipient with every format that succeeded
attached (HTML also inline), a readable summary, and a link to the status page.

An upload is what one submission asked for: the upload form makes one report per format, the
API one report. Its emails wait until every report of it has ended
(:func:`reportgen.pipeline.state.claim_upload_emails`), so a recipient gets one message, not one per format.
"""
from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select

from ..domain.dates import as_utc, day_month
from ..domain.filenames import attachment_name
from ..extensions import db
from ..models import Report, ReportItem, Status
from ..render import formats
from ..render.html_pdf import report_environment

#: Flagged students listed in a message; the report has the rest.
FLAGS_LISTED = 10


class PermanentDeliveryError(Exception):
    """The server refused for good (a 5xx reply): retrying would not help."""


class UnbuildableMessage(Exception):
    """The email library refused to build the message (e.g. a line break in the report's label,
    which would become the Subject): the same report would be refused again, so nothing to retry."""


class NothingToSend(Exception):
    """No report of the upload has a document to attach (none succeeded, or they were deleted)."""


def readable_time(moment: datetime | None) -> str:
    """A time in a message, in UTC and the same in every locale: ``23 Nov 2026, 14:05 UTC``."""
    moment = as_utc(moment)
    if moment is None:
        return ""
    moment = moment.astimezone(timezone.utc)
    return f"{day_month(moment)}, {moment:%H:%M} UTC"


def upload_reports(lead: Report) -> list[Report]:
    """Every report of the lead's upload (the form's one per format), in the formats' order."""
    if not lead.submission_id:
        return [lead]
    return formats.in_format_order(db.session.scalars(select(Report).where(Report.submission_id == lead.submission_id)))


@dataclass(frozen=True)
class FormatPart:
    """What the message says of one format of the upload; ``filename`` when it is attached."""

    name: str
    sentence: str
    filename: str | None = None
    inline: bool = False
    succeeded: int = 0
    total: int = 0


def _part(report: Report) -> FormatPart:
    report_format = formats.get(report.format)
    name = report_format.label
    if report.status == Status.SUCCESS.value and report.purged_at is None:
        filename = attachment_name(report)
        summary = report.summary or {"total": report.student_count, "succeeded": report.student_count}
        shown = ", and shown below this summary" if report_format.inline else ""
        return FormatPart(name, f"attached as {filename}{shown}.", filename, report_format.inline,
                          summary["succeeded"], summary["total"])
    if report.status == Status.SUCCESS.value:
        return FormatPart(name, f"The {name} report was deleted before this message was sent.")
    if report.status == Status.CANCELED.value:
        return FormatPart(name, f"The {name} report was canceled, so it is not attached.")
    reason = (report.error or "the reason was not recorded").rstrip(".")
    return FormatPart(name, f"The {name} report could not be made: {reason}.")


def build_message(reports: list[Report], lead: Report, recipient: str, sender: str,
                  public_url: str | None = None, request_id: str | None = None) -> EmailMessage:
    """The message for one recipient about the whole upload; each document rides along unchanged.
    ``X-Request-ID`` is the request that submitted the upload (reportgen.logs), when known."""
    parts = [_part(report) for report in reports]
    attached = [(report, part) for report, part in zip(reports, parts) if part.filename]
    if not attached:
        raise NothingToSend()
    first = attached[0][0]
    title = lead.label or (f"Activity report: {first.student_ids[0]}" if first.student_count == 1
                           else f"Activity report: {first.student_count} students")
    names = ", ".join(part.name for _, part in attached)
    failures = _failures(report for report, _ in attached)
    flagged = flagged_students(first)
    submitted = readable_time(min(as_utc(report.created_at) for report in reports))
    finished = readable_time(max(as_utc(report.finished_at) for report in reports if report.finished_at))
    status_link = f"{public_url.rstrip('/')}/reports/{lead.id}" if public_url else None
    if len(reports) == 1:
        intro = f"Your {names} report is ready."
    elif len(attached) == len(reports):
        intro = f"Your {_and(names.split(', '))} reports are ready."
    else:
        intro = f"{len(attached)} of your {len(reports)} reports are ready."
    message = EmailMessage()
    headers = {"Subject": f"{title} ({names})", "From": sender, "To": recipient,
               "Date": formatdate(localtime=False),
               "Message-ID": make_msgid(domain=sender.rpartition("@")[2] or "reportgen.local"),
               "X-Reportgen-Task": lead.id}
    if request_id:
        headers["X-Request-ID"] = request_id
    for name, value in headers.items():
        try:
            message[name] = value
        except (ValueError, MessageError) as exc:
            raise UnbuildableMessage(f"its {name} header: {exc}") from exc
    lines = [title, "", intro, ""]
    for part in parts:
        lines.append(f"{part.name}: {part.sentence}")
        if part.filename:
            lines.append(f"  Succeeded: {part.succeeded} of {part.total} students")
    lines += ["", f"Students:  {first.student_count}", f"Events:    {first.event_count}",
              f"Submitted: {submitted}", f"Finished:  {finished}"]
    if failures:
        lines += ["", "Students that could not be rendered:"]
        lines += [f"  - {student_id} ({', '.join(where)}): {error}" for student_id, where, error in failures]
    if flagged:
        lines += ["", f"Flagged: {len(flagged)} student{'s' if len(flagged) != 1 else ''}"]
        lines += [f"  - {student_id}: {'; '.join(texts)}" for student_id, texts in flagged[:FLAGS_LISTED]]
        if len(flagged) > FLAGS_LISTED:
            lines.append(f"  … and {len(flagged) - FLAGS_LISTED} more in the report")
    if status_link:
        lines += ["", f"Status page: {status_link}"]
    message.set_content("\n".join(lines) + "\n")
    message.add_alternative(
        report_environment().get_template("email/report.html").render(
            title=title, intro=intro, parts=parts, student_count=first.student_count, event_count=first.event_count,
            submitted=submitted, finished=finished, failures=failures, flagged=flagged[:FLAGS_LISTED],
            flagged_more=max(0, len(flagged) - FLAGS_LISTED), flagged_count=len(flagged),
            status_link=status_link, task_id=lead.id,
        ),
        subtype="html",
    )
    for report, part in attached:
        maintype, subtype = report.content_type.split(";")[0].split("/")
        message.add_attachment(report.content, maintype=maintype, subtype=subtype, filename=part.filename,
                               disposition="inline" if part.inline else "attachment")
    return message


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _failures(reports) -> list[tuple[str, list[str], str]]:
    """``(student id, formats, first error)`` of every student a report that succeeded left out."""
    failed: dict[str, tuple[list[str], str]] = {}
    for report in reports:
        for student in (report.summary or {}).get("students", []):
            if student["status"] == Status.FAILURE.value:
                names, error = failed.setdefault(student["student_id"], ([], student["error"]))
                names.append(formats.get(report.format).label)
    return [(student_id, names, error) for student_id, (names, error) in failed.items()]


def flagged_students(report: Report) -> list[tuple[str, list[str]]]:
    """``(student id, flag sentences)`` of every flagged student, in upload order."""
    rows = db.session.execute(
        select(ReportItem.student_id, ReportItem.metrics).where(ReportItem.report_id == report.id)
        .order_by(ReportItem.position)
    )
    return [(student_id, [flag["text"] for flag in metrics["flags"]])
            for student_id, metrics in rows if metrics and metrics.get("flags")]


def _connect(config) -> smtplib.SMTP:
    """A connection to the SMTP server: TLS from the first byte with ``SMTP_SSL`` (port 465),
    else plain, upgraded by STARTTLS when ``SMTP_STARTTLS`` is set. Certificates are verified
    against the system's CAs either way."""
    host, port, timeout = config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TIMEOUT"]
    if config.get("SMTP_SSL"):
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(host, port, timeout=timeout)


def send(message: EmailMessage, config) -> None:
    """Hand the message to the configured SMTP server.

    A 5xx refusal raises :class:`PermanentDeliveryError`; connection problems and 4xx
    replies raise the underlying error so the job is retried.
    """
    with connection(config) as client:
        send_with(client, message)


@contextlib.contextmanager
def connection(config) -> Iterator[smtplib.SMTP]:
    """One SMTP session (TLS and login as configured) for several messages; a 5xx refusal of the
    session itself raises :class:`PermanentDeliveryError`."""
    try:
        with _connect(config) as client:
            if config["SMTP_STARTTLS"] and not config.get("SMTP_SSL"):
                client.starttls(context=ssl.create_default_context())
            if config["SMTP_USERNAME"]:
                client.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            yield client
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(f"{exc.smtp_code} {_decode(exc.smtp_error)}") from None
        raise


def send_with(client: smtplib.SMTP, message: EmailMessage) -> None:
    """Send one message on an open session; a 5xx refusal of it raises :class:`PermanentDeliveryError`."""
    try:
        client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentDeliveryError(_reply_text(exc.recipients)) from None
        raise
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(f"{exc.smtp_code} {_decode(exc.smtp_error)}") from None
        raise


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _reply_text(recipients: dict) -> str:
    return "; ".join(f"{address}: {code} {_decode(reply)}" for address, (code, reply) in recipients.items())


def describe_smtp_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_decode(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _reply_text(exc.recipients)
    return f"{type(exc).__name__}: {exc}"
