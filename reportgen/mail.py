"""Email a finished report: a readable summary, the report attached (PDF/CSV) or inline (HTML)."""
from __future__ import annotations

import smtplib
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select

from . import formats
from .extensions import db
from .models import Report, ReportItem
from .rendering import report_environment
from .serializers import download_name, iso

#: Flagged students listed in a message; the report has the rest.
FLAGS_LISTED = 10


class PermanentDeliveryError(Exception):
    """The server refused for good (a 5xx reply): retrying would not help."""


class UnbuildableMessage(Exception):
    """The email library refused to build the message (e.g. a line break in the report's label,
    which would become the Subject): the same report would be refused again, so nothing to retry."""


def build_message(report: Report, recipient: str, sender: str) -> EmailMessage:
    """The message for one recipient; the report's bytes ride along unchanged."""
    summary = report.summary or {"total": report.student_count, "succeeded": report.student_count, "failed": 0,
                                 "students": []}
    title = report.label or (f"Activity report: {report.student_ids[0]}" if report.student_count == 1
                             else f"Activity report: {report.student_count} students")
    filename = download_name(report)
    report_format = formats.get(report.format)
    format_name = report_format.label
    attached = not report_format.inline
    flagged = flagged_students(report)
    failures = [student for student in summary["students"] if student["status"] == "FAILURE"]
    message = EmailMessage()
    headers = {"Subject": f"{title} ({format_name})", "From": sender, "To": recipient,
               "Date": formatdate(localtime=False),
               "Message-ID": make_msgid(domain=sender.rpartition("@")[2] or "reportgen.local"),
               "X-Reportgen-Task": report.id}
    for name, value in headers.items():
        try:
            message[name] = value
        except (ValueError, MessageError) as exc:
            raise UnbuildableMessage(f"its {name} header: {exc}") from exc
    lines = [
        f"{title}",
        "",
        f"Your {format_name} report is ready."
        + (f" It is attached as {filename}." if attached else " It follows this summary."),
        "",
        f"Students:  {summary['total']}",
        f"Succeeded: {summary['succeeded']}",
        f"Failed:    {summary['failed']}",
        f"Events:    {report.event_count}",
        f"Finished:  {iso(report.finished_at)}",
    ]
    lines += [f"  - {student['student_id']}: {student['error']}" for student in failures]
    if flagged:
        lines += ["", f"Flagged: {len(flagged)} student{'s' if len(flagged) != 1 else ''}"]
        lines += [f"  - {student_id}: {'; '.join(texts)}" for student_id, texts in flagged[:FLAGS_LISTED]]
        if len(flagged) > FLAGS_LISTED:
            lines.append(f"  … and {len(flagged) - FLAGS_LISTED} more in the report")
    message.set_content("\n".join(lines) + "\n")
    message.add_alternative(
        report_environment().get_template("email/report.html").render(
            title=title, label=report.label, format_name=format_name, attached=attached,
            filename=filename, summary=summary, event_count=report.event_count, finished=iso(report.finished_at),
            failures=failures, task_id=report.id, flagged=flagged[:FLAGS_LISTED],
            flagged_more=max(0, len(flagged) - FLAGS_LISTED), flagged_count=len(flagged),
        ),
        subtype="html",
    )
    maintype, subtype = report.content_type.split(";")[0].split("/")
    message.add_attachment(report.content, maintype=maintype, subtype=subtype, filename=filename,
                           disposition="attachment" if attached else "inline")
    return message


def flagged_students(report: Report) -> list[tuple[str, list[str]]]:
    """``(student id, flag sentences)`` of every flagged student, in upload order."""
    rows = db.session.execute(
        select(ReportItem.student_id, ReportItem.metrics).where(ReportItem.report_id == report.id)
        .order_by(ReportItem.position)
    )
    return [(student_id, [flag["text"] for flag in metrics["flags"]])
            for student_id, metrics in rows if metrics and metrics.get("flags")]


def send(message: EmailMessage, config) -> None:
    """Hand the message to the configured SMTP server.

    A 5xx refusal raises :class:`PermanentDeliveryError`; connection problems and 4xx
    replies raise the underlying error so the job is retried.
    """
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"]) as client:
            if config["SMTP_STARTTLS"]:
                client.starttls()
            if config["SMTP_USERNAME"]:
                client.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
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
