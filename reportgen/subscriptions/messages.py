"""The messages of a subscription run: the class report to each recipient with a short digest in
the body, and to each student only their own report.

Attachments are named from the class and the period, ``python-101 – November 2024.pdf``, the
same for the teacher and the student (the mail's filename parameter carries any script, RFC 2231).
A student's message names nobody else: its body holds the student's own figures, its attachment
is the student's own document (:func:`reportgen.pipeline.stored.student_document`: their pages
of the class PDF, or their own HTML or CSV document).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select

from ..delivery.mail import FLAGS_LISTED, flagged_students
from ..domain.figures import format_duration
from ..domain.periods import Period, parse_period
from ..extensions import db
from ..history.roster import names_of
from ..history.summary import class_summary_for
from ..models import Report, ReportItem, SchoolClass, Status, Subscription, SubscriptionReport, SubscriptionRun
from ..pipeline.stored import student_document
from ..render import formats


#: What no file name may hold on any system a teacher opens the attachment on.
UNSAFE_IN_NAMES = re.compile(r'[/\\:*?"<>|\x00-\x1f]+')


@dataclass
class MessageParts:
    """What every message of one run shares."""

    found: SchoolClass
    period: Period
    reports: list[Report]
    names: dict[str, str]
    digest: list[str] = field(default_factory=list)
    """The class message's summary (:func:`digest`), made where links can be built."""

    @classmethod
    def of(cls, run: SubscriptionRun, subscription: Subscription) -> MessageParts:
        found = subscription.school_class
        reports = formats.in_format_order(db.session.scalars(
            select(Report).join(SubscriptionReport, SubscriptionReport.report_id == Report.id)
            .where(SubscriptionReport.run_id == run.id, Report.status == Status.SUCCESS.value,
                   Report.purged_at.is_(None))))
        return cls(found, parse_period(run.period, found.timezone), reports, names_of(found))

    def title(self) -> str:
        return f"{self.found.namespace} – {self.period.name}"

    def filename(self, report: Report) -> str:
        return f"{UNSAFE_IN_NAMES.sub('-', self.title())}.{report.format}"

    def who(self, student_id: str) -> str:
        name = self.names.get(student_id)
        return f"{student_id} · {name}" if name else student_id  # as the reports name a student


def _message(subject: str, recipient: str, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "reportgen.local")
    return message


def _attach(message: EmailMessage, content: bytes, report: Report, filename: str) -> None:
    maintype, subtype = report.content_type.split(";")[0].split("/")
    message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)


def _change(now: int, before: int) -> str:
    if not before:
        return "new this period" if now else "none, as before"
    percent = round(100 * (now - before) / before)
    return f"{'up' if percent > 0 else 'down'} {abs(percent)}%" if percent else "the same"


def digest(parts: MessageParts) -> list[str]:
    """The body's summary: students active, the change from the previous period, who carries which flag."""
    summary = class_summary_for(parts.found, parts.period)
    previous = summary["previous"]
    lines = [f"Students active: {summary['active_students']} "
             f"({_change(summary['active_students'], previous['active_students'])} from {parts.period.previous().name})",
             f"Events:          {summary['events']} ({_change(summary['events'], previous['events'])})",
             f"Time on task:    {format_duration(summary['time_on_task_seconds'])} "
             f"({_change(summary['time_on_task_seconds'], previous['time_on_task_seconds'])})"]
    flagged = flagged_students(parts.reports[0]) if parts.reports else []
    if flagged:
        lines += ["", f"Flagged: {len(flagged)} student{'s' if len(flagged) != 1 else ''}"]
        lines += [f"  - {parts.who(student_id)}: {'; '.join(texts)}" for student_id, texts in flagged[:FLAGS_LISTED]]
        if len(flagged) > FLAGS_LISTED:
            lines.append(f"  … and {len(flagged) - FLAGS_LISTED} more in the report")
    else:
        lines += ["", "No student carries a flag."]
    return lines


def class_message(parts: MessageParts, recipient: str, sender: str) -> EmailMessage:
    message = _message(f"{parts.title()}: activity report", recipient, sender)
    names = ", ".join(formats.get(report.format).label for report in parts.reports)
    lines = [parts.title(), "", f"The class's activity report for {parts.period.name} ({parts.found.timezone}) "
                                f"is attached ({names}).", "", *parts.digest]
    message.set_content("\n".join(lines) + "\n")
    for report in parts.reports:
        _attach(message, report.content, report, parts.filename(report))
    return message


def student_message(parts: MessageParts, recipient: str, student_id: str, sender: str,
                    documents: dict | None = None) -> EmailMessage:
    """One student's message: their own figures and their own document of each format, nobody
    else's. ``documents`` keeps what was read of each report for the run's next student."""
    documents = {} if documents is None else documents
    message = _message(f"{parts.title()}: your activity report", recipient, sender)
    lines = [parts.title(), "", f"Your activity report for {parts.period.name} is attached.", ""]
    attachments = []
    for report in parts.reports:
        item = db.session.scalar(select(ReportItem).where(ReportItem.report_id == report.id,
                                                          ReportItem.student_id == student_id))
        if item is None or item.status != Status.SUCCESS.value:
            continue
        if not attachments:
            metrics = db.session.scalar(select(ReportItem.metrics).where(ReportItem.id == item.id)) or {}
            lines += [f"Student:      {parts.who(student_id)}", f"Events:       {metrics.get('events', 0)}",
                      f"Time on task: {format_duration(metrics.get('time_on_task_seconds', 0))}",
                      f"Active days:  {metrics.get('active_days', 0)}"]
        attachments.append((student_document(report, item, documents.setdefault(report.id, {})), report))
    if not attachments:
        raise LookupError("the student has no document in the run's reports")
    message.set_content("\n".join(lines) + "\n")
    for content, report in attachments:
        _attach(message, content, report, parts.filename(report))
    return message
