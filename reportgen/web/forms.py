"""The upload form and the history filters.

The form checks everything at once: its own fields, and the data (whenever there is exactly one
source) even when a field is wrong, so one submit shows every problem. The data's problems are
shown in plain words (:mod:`reportgen.domain.plain_words`), never as the API's paths.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (BooleanField, DateField, Form, IntegerField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..domain.csv_import import MalformedCSV, looks_like_csv, read_csv
from ..domain.importers import ImportOptions, choose, own_input, parse_import_options, read_import
from ..domain.options import parse_timezone
from ..domain.limits import MAX_CHARS
from ..domain.plain_words import in_plain_words
from ..domain.submission import (EmptySubmission, MalformedJSON, SubmissionError, TooLarge, check_upload_size,
                                 is_blank, is_envelope, loads, text_problem)
from ..domain.upload import Upload, parse_recipients, parse_upload
from ..models import Status
from ..render.formats import FORMATS

DEFAULT_FORMATS = ("html", "pdf")
LABEL_MAX = MAX_CHARS["label"]
MAX_LISTED_PROBLEMS = 50
SNIPPET_WIDTH = 80
#: What "Try it with example data" fills in (relative to the project, beside ``reportgen/``).
EXAMPLE = Path("examples") / "students.json"


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def storable(form, field) -> None:
    """A field's text must be storable: no NUL character (see ``text_problem``)."""
    if isinstance(field.data, str) and text_problem(field.data):
        raise ValidationError("Remove the NUL character (an invisible control character): it cannot be stored.")


def format_choices() -> list[SelectChoice]:
    """Every format the service can render, in ``FORMATS`` order (new formats join by themselves)."""
    return [SelectChoice(name, fmt.label) for name, fmt in FORMATS.items()]


def default_formats() -> list[str]:
    return [name for name in FORMATS if name in DEFAULT_FORMATS]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


@dataclass
class UploadProblem:
    """Why the submitted JSON or CSV was refused, in plain words: a title, the problems as
    sentences (grouped, counting from one), and for malformed JSON where to look: the line and
    column, and the line before and the culprit's line with a caret under it."""

    title: str
    listed: list[str] = field(default_factory=list)
    line: int | None = None
    column: int | None = None
    excerpt: list[str] = field(default_factory=list)  # numbered lines; the last is the caret's
    filename: str | None = None


def excerpt(raw: str | bytes, line: int, column: int) -> list[str]:
    """The line before the culprit's and the culprit's own (a window of them when long), numbered
    from 1, then a caret under the column; both lines cut at the same place so the caret lines up."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return []
    lines = raw.split("\n", line)[:line]
    if not 1 <= line <= len(lines):
        return []
    shown = [(number, lines[number - 1].rstrip("\r").expandtabs(1)) for number in (line - 1, line) if number >= 1]
    text = shown[-1][1]
    start = max(0, min(column - 1 - SNIPPET_WIDTH // 2, len(text) - SNIPPET_WIDTH))
    width = len(str(line))
    out = []
    for number, text in shown:
        window = text[start:start + SNIPPET_WIDTH]
        prefix = "…" if start > 0 and text else ""
        suffix = "…" if start + SNIPPET_WIDTH < len(text) else ""
        out.append(f"{number:>{width}} │ {prefix}{window}{suffix}")
    prefix = 1 if start > 0 else 0
    out.append(f"{'':>{width}} │ " + " " * (prefix + column - 1 - start) + "^")
    return out


def _title(exc: SubmissionError) -> str:
    if isinstance(exc, MalformedJSON):
        return "The JSON can’t be read"
    if isinstance(exc, MalformedCSV):
        return "The CSV can’t be read"
    if isinstance(exc, EmptySubmission):
        return f"The {exc.what} is empty"
    if isinstance(exc, TooLarge):
        return exc.message[:1].upper() + exc.message[1:] + " for one upload"
    count = len(exc.details) + exc.not_shown
    return f"{count:,} problem{'s' if count != 1 else ''} to fix"


def upload_problem(exc: SubmissionError, raw: str | bytes, document, filename: str | None) -> UploadProblem:
    """What the page shows for a refused upload: ``document`` (the decoded JSON, if it was)
    names the students."""
    problem = UploadProblem(title=_title(exc), filename=filename)
    if isinstance(exc, MalformedJSON):
        problem.listed = [exc.reason[:1].upper() + exc.reason[1:]]
        problem.line, problem.column = exc.line, exc.column
        problem.excerpt = excerpt(raw, exc.line, exc.column)
    elif isinstance(exc, EmptySubmission):
        problem.listed = ["Choose the file with the students’ events, or paste them into the text box."]
    else:
        listed = in_plain_words(exc.details, document)
        shown = listed[:MAX_LISTED_PROBLEMS]
        left_out = len(listed) - len(shown)
        if left_out or exc.not_shown:
            more = f"{left_out:,} more lines" if left_out else ""
            problems = f"{exc.not_shown:,} more problem{'s' if exc.not_shown != 1 else ''}" if exc.not_shown else ""
            shown.append(f"… and {' and '.join(part for part in (more, problems) if part)} not listed here.")
        problem.listed = shown
    return problem


def namespaces_of(document) -> list[str]:
    """The namespaces named in a (not yet validated) submission, for options that apply to all."""
    students = document["students"] if is_envelope(document) else document
    students = [students] if isinstance(students, dict) else students if isinstance(students, list) else []
    found = {student.get("namespace") or "" for student in students if isinstance(student, dict)}
    return sorted(namespace for namespace in found if isinstance(namespace, str))


INPUT_CHOICES = [
    SelectChoice("auto", "Recognise it from the file"),
    SelectChoice("reportgen", "reportgen JSON or CSV"),
    SelectChoice("xapi", "xAPI statements (an LRS export)"),
    SelectChoice("moodle", "Moodle log (Reports → Logs → Download)"),
    SelectChoice("caliper", "Caliper events (Canvas Live Events)"),
]
DAY_FIRST_CHOICES = [SelectChoice("true", "Day first: 21/07/24"), SelectChoice("false", "Month first: 07/21/24")]


class UploadForm(FlaskForm):
    file = FileField("JSON or CSV file", render_kw={
        "accept": ".json,.jsonl,.ndjson,.csv,application/json,text/csv"})
    text = TextAreaField("Paste JSON or CSV", render_kw={"rows": 8, "spellcheck": "false", "autocomplete": "off"})
    formats = MultiCheckboxField("Formats", choices=format_choices, default=default_formats)
    label = StringField(
        "Label (optional)",
        filters=[_strip],
        validators=[Optional(), storable,
                    Length(max=LABEL_MAX, message=f"Keep the label to {LABEL_MAX} characters at most.")],
        render_kw={"maxlength": LABEL_MAX, "placeholder": "e.g. Week 3, group B"},
    )
    email = StringField(
        "Email the reports to (optional)",
        filters=[_strip], validators=[storable],
        render_kw={"placeholder": "teacher@school.example, head@school.example", "autocomplete": "email",
                   "inputmode": "email"},
    )

    event_log = BooleanField("Add the event log, one line per event, to the printable report")
    idle_cutoff_minutes = IntegerField(
        "Idle cutoff (minutes)", default=30,
        validators=[Optional(), NumberRange(min=1, max=1440, message="Choose a whole number of minutes from 1 to 1440.")],
        render_kw={"min": 1, "max": 1440, "inputmode": "numeric"},
    )
    window_from = DateField("From (date, optional)", validators=[Optional()])
    window_to = DateField("To (date, optional)", validators=[Optional()])
    report_timezone = StringField(
        "Show times in (time zone, optional)", filters=[_strip], validators=[Optional(), Length(max=64)],
        render_kw={"placeholder": "e.g. Europe/Berlin (UTC if empty)", "autocomplete": "off", "spellcheck": "false"},
    )
    unit_order = StringField(
        "Unit order (optional)", filters=[_strip], validators=[Optional(), storable, Length(max=2000)],
        render_kw={"placeholder": "e.g. 5, 6, 7, 8", "autocomplete": "off", "spellcheck": "false"},
    )
    keep = BooleanField("Keep these events in the class history", default=False)

    input_format = SelectField("Format of the data", choices=INPUT_CHOICES, default="auto")
    day_first = SelectField("Dates in the Moodle log", choices=DAY_FIRST_CHOICES, default="true")
    timezone = StringField(
        "Time zone of the Moodle log", default="UTC", filters=[_strip], validators=[Optional(), Length(max=64)],
        render_kw={"placeholder": "e.g. Europe/Berlin", "autocomplete": "off", "spellcheck": "false"},
    )
    exclude_users = StringField(
        "Leave out these Moodle users (optional)", filters=[_strip], validators=[Optional(), storable, Length(max=2000)],
        render_kw={"placeholder": "user ids or full names, separated by commas", "autocomplete": "off"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.source_errors: list[str] = []
        self.problem: UploadProblem | None = None
        self.problem_field: str | None = None
        self._upload: Upload | None = None
        self.source: dict | None = None
        """What the data was read as (the status and the report say it)."""

    @property
    def email_available(self) -> bool:
        """Whether this server can send email (``SMTP_HOST``): the email field is shown only then."""
        return bool(current_app.config["SMTP_HOST"])

    @property
    def show_email(self) -> bool:
        """The email field is shown when email is on, or when addresses were sent anyway (from a
        page loaded before email was turned off), so that they can be seen and removed."""
        return self.email_available or bool(self.email.data) or bool(self.email.errors)

    @staticmethod
    def example_path() -> Path | None:
        """The example data the "Try it" button fills in, if this installation has it."""
        path = Path(current_app.root_path).parent / EXAMPLE
        return path if path.is_file() else None

    def fill_example(self) -> None:
        path = self.example_path()
        if path is not None:
            self.text.data = path.read_text(encoding="utf-8")

    @property
    def has_file(self) -> bool:
        return self.file.data is not None

    @property
    def has_text(self) -> bool:
        return bool((self.text.data or "").strip())

    def recipient_list(self) -> list[str]:
        return [part for part in re.split(r"[\s,;]+", self.email.data or "") if part]

    def validate_email(self, field) -> None:
        """The API's rules and messages for addresses, and a clear word if email is off."""
        if not self.recipient_list():
            return
        if not self.email_available:
            raise ValidationError("Email is not set up on this server (SMTP_HOST), so reports can’t be sent: "
                                  "remove the addresses and send the form again.")
        try:
            parse_recipients(self.recipient_list())
        except SubmissionError as exc:
            raise ValidationError("; ".join(exc.details.values())) from None

    def validate_formats(self, field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one format.")

    def validate(self, extra_validators=None) -> bool:
        """The fields, and the data whenever there is exactly one source, so that one submit shows
        every problem; :meth:`upload` then gives the parsed upload."""
        valid = super().validate(extra_validators)
        if self.has_file and self.has_text:
            self.source_errors.append(
                "Send either a file or pasted text, not both: clear the text box or remove the file."
            )
        elif not self.has_file and not self.has_text:
            self.source_errors.append("Choose a JSON or CSV file, or paste JSON or CSV into the text box.")
        if self.source_errors:
            return False
        try:
            self.upload()
        except SubmissionError:
            return False
        return valid

    def validate_timezone(self, field) -> None:
        try:
            parse_import_options({"timezone": field.data})
        except SubmissionError:
            raise ValidationError(f"Use a time zone name like Europe/Berlin or UTC: {field.data[:64]!r} is not one "
                                  "this server knows.") from None

    def import_options(self) -> ImportOptions:
        """How to read a file of another platform, from the fields (one with an error of its own
        takes its default: it is shown beside the field)."""
        return parse_import_options({
            "day_first": self.day_first.data,
            "timezone": None if self.timezone.errors else self.timezone.data,
            "exclude_users": None if self.exclude_users.errors else self.exclude_users.data,
        })

    def validate_report_timezone(self, field) -> None:
        """The API's rule and words for ``options.timezone``."""
        problems: dict[str, str] = {}
        parse_timezone(field.data, "timezone", problems)
        if problems:
            raise ValidationError(problems["timezone"][:1].upper() + problems["timezone"][1:] + ".")

    def validate_window_to(self, field) -> None:
        if field.data and self.window_from.data and field.data < self.window_from.data:
            raise ValidationError("The end date is before the start date.")

    def options(self) -> dict:
        """The report options the form's fields ask for, as an envelope's ``options``; a field
        with an error of its own is left out (it is shown beside the field, not twice)."""
        options: dict = {"event_log": bool(self.event_log.data)}
        if self.idle_cutoff_minutes.data is not None and not self.idle_cutoff_minutes.errors:
            options["idle_cutoff_minutes"] = self.idle_cutoff_minutes.data
        window = {key: field.data.isoformat() for key, field in (("from", self.window_from), ("to", self.window_to))
                  if field.data and not self.window_to.errors and not field.errors}
        if window:
            options["window"] = window
        if self.report_timezone.data and not self.report_timezone.errors:
            options["timezone"] = self.report_timezone.data
        return options

    def upload_options(self, document) -> dict:
        """The envelope options the upload is read with: the fields' and the unit order."""
        options = self.options()
        order = self.unit_order_list()
        if order and not self.unit_order.errors:
            options["units"] = {namespace: order for namespace in namespaces_of(document)}
        return options

    def upload_recipients(self) -> list[str] | None:
        return None if self.email.errors else self.recipient_list() or None

    def refuse(self, exc: SubmissionError) -> None:
        """A problem found after the data was read (keeping its events): shown like the data's own."""
        self.problem = upload_problem(exc, "", None, self.file.data.filename if self.has_file else None)
        self.problem_field = "file" if self.has_file else "text"

    def unit_order_list(self) -> list[str]:
        return [part.strip() for part in re.split(r"[,;\n]+", self.unit_order.data or "") if part.strip()]

    def selected_formats(self) -> list[str]:
        return [name for name in FORMATS if name in self.formats.data]

    def is_csv(self, raw: str | bytes) -> bool:
        """A ``.csv`` file, or a text whose first line is a CSV header (pasted cells included)."""
        if self.has_file and (self.file.data.filename or "").lower().endswith(".csv"):
            return True
        return looks_like_csv(raw)

    def upload(self) -> Upload:
        """Parse the one source exactly as the API does (JSON, an envelope with ``email``
        included, CSV, or another platform's file: the format chosen or recognised), with the
        email field's recipients unless that field has an error of its own; on failure keep the
        problem, in plain words, for the page."""
        if self._upload is not None:
            return self._upload
        raw: str | bytes = self.file.data.read() if self.has_file else self.text.data
        is_csv = self.is_csv(raw)
        document = None
        try:
            if is_blank(raw):
                raise EmptySubmission("file" if self.has_file else "pasted text")
            input_format = choose(raw, self.input_format.data if self.input_format.data != "auto" else None)
            if input_format != "reportgen":
                order = self.unit_order_list() if not self.unit_order.errors else []
                recipients = None if self.email.errors else self.recipient_list() or None
                self._upload, self.source = read_import(
                    raw, input_format, self.import_options(),
                    object_limit=current_app.config["REPORTGEN_MAX_UPLOAD_OBJECTS"], recipients=recipients,
                    options=self.options(), unit_order=order, email_available=self.email_available)
                return self._upload
            check_upload_size(raw, current_app.config["REPORTGEN_MAX_UPLOAD_OBJECTS"], csv=is_csv)
            table = read_csv(raw) if is_csv else None
            document = table.students if table else loads(raw)
            options = self.upload_options(document)
            recipients = self.upload_recipients()
            if table:
                self._upload = table.upload(recipients, options)
            else:
                self._upload = parse_upload(document, recipients, options, email_available=self.email_available)
            self.source = own_input(self._upload)
            return self._upload
        except SubmissionError as exc:
            self.problem = upload_problem(exc, raw, document, self.file.data.filename if self.has_file else None)
            self.problem_field = "file" if self.has_file else "text"
            raise


class AddEventsForm(UploadForm):
    """"Add events" on a class page: the upload page's data fields and handling, nothing else (the
    events go into the class's history, no report is made)."""

    formats = label = email = event_log = idle_cutoff_minutes = window_from = window_to = unit_order = keep = None

    def upload_options(self, document) -> dict:
        return {}

    def upload_recipients(self) -> list[str] | None:
        return None


class ClassReportForm(FlaskForm):
    """"Make a report for [month ▾]" on a class page."""

    period = SelectField("Make a report for", validate_choice=True)
    formats = MultiCheckboxField("Formats", choices=format_choices, default=default_formats)

    def validate_formats(self, field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one format.")

    def selected_formats(self) -> list[str]:
        return [name for name in FORMATS if name in self.formats.data]


class TimezoneForm(FlaskForm):
    """A class's time zone: its periods are that zone's months and weeks."""

    timezone = SelectField("Time zone", validate_choice=True)


class SubscriptionForm(FlaskForm):
    """A class's subscription on its page: every month or week, when, what and to whom. The
    fields become the API's document, checked by the same rules (:func:`reportgen.subscriptions.store.checked_fields`)."""

    every = SelectField("Every", choices=[SelectChoice("month", "Month (the month before)"),
                                          SelectChoice("week", "Week (the ISO week before)")],
                        default="month", validate_choice=True)
    day = IntegerField("Day", default=1, description="Of the month (1–31), or of the week (1 = Monday … 7 = Sunday).",
                       validators=[Optional()])
    time = StringField("Time", default="07:00", filters=[_strip], description="HH:MM in the class's time zone.")
    formats = MultiCheckboxField("Formats", choices=format_choices, default=["pdf"])
    recipients = TextAreaField("Send the class report to", filters=[_strip],
                               description="Email addresses, one a line or separated by commas.",
                               render_kw={"rows": 2, "spellcheck": "false", "autocomplete": "off"})
    students = BooleanField("Email each student only their own report (to the roster’s address)")
    skip_if_empty = BooleanField("Skip a period without events (no reports, no mail)", default=True)

    def document(self) -> dict:
        return {"every": self.every.data, "day": self.day.data if self.day.data is not None else 1,
                "time": self.time.data or "", "formats": [name for name in FORMATS if name in (self.formats.data or [])],
                "recipients": [address.strip() for address in re.split(r"[,;\s]+", self.recipients.data or "")
                               if address.strip()],
                "students": bool(self.students.data), "skip_if_empty": bool(self.skip_if_empty.data)}

    def refuse(self, exc: SubmissionError) -> None:
        """Each problem under its field (``recipients[2]`` under recipients)."""
        for path, reason in exc.details.items():
            field = getattr(self, path.split("[")[0].split(".")[0], None)
            if field is None or not hasattr(field, "errors"):
                field = self.recipients
            field.errors = [*(field.errors or []), f"{path}: {reason}" if "[" in path else reason]


class RosterForm(FlaskForm):
    """A class's roster as a CSV file (student_id, name, email)."""

    file = FileField("Roster (CSV: student_id, name, email)", render_kw={"accept": ".csv,text/csv"})


class EraseStudentForm(FlaskForm):
    """The confirmation of erasing one student's stored events (only its CSRF token)."""


STATUS_CHOICES = [
    SelectChoice("", "Any status"),
    SelectChoice(Status.PENDING.value, "Queued"),
    SelectChoice(Status.STARTED.value, "Rendering"),
    SelectChoice(Status.SUCCESS.value, "Done"),
    SelectChoice(Status.FAILURE.value, "Failed"),
    SelectChoice(Status.CANCELED.value, "Canceled"),
]


class HistoryFilterForm(Form):
    """GET filters of the history page (no CSRF: it changes nothing)."""

    q = StringField("Label or student id", filters=[_strip], validators=[Optional(), Length(max=200)])
    namespace = StringField("Namespace contains", filters=[_strip], validators=[Optional(), Length(max=200)])
    status = SelectField("Status", choices=STATUS_CHOICES, default="", validate_choice=False)

    @property
    def active(self) -> dict[str, str]:
        """The filters in use, for the query and for links that keep them."""
        values = {}
        for name in ("q", "namespace"):
            value = (getattr(self, name).data or "")[:200]
            if value:
                values[name] = value
        if self.status.data in {choice.value for choice in STATUS_CHOICES if choice.value}:
            values["status"] = self.status.data
        return values
