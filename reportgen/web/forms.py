"""The upload form and the history filters."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, Form, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..domain.csv_import import in_words, looks_like_csv, read_csv
from ..domain.submission import (MalformedJSON, SubmissionError, Upload, check_object_count, is_envelope, loads,
                                 parse_recipients, parse_upload, text_problem)
from ..formats import FORMATS
from ..models import Status

DEFAULT_FORMATS = ("html", "pdf")
LABEL_MAX = 200
MAX_LISTED_PROBLEMS = 50
SNIPPET_WIDTH = 80


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
class JSONProblem:
    """Why the submitted JSON or CSV was refused: the API's message and details, plus where to
    look. A CSV's problems are listed in words (``Row 7, column unit``), by ``by_row``."""

    message: str
    details: dict[str, str]
    line: int | None = None
    column: int | None = None
    snippet: tuple[str, str] | None = None  # (the line, a caret under the column)
    more: int = 0
    filename: str | None = None
    listed: list[tuple[str, str]] = field(default_factory=list)
    by_row: bool = False


def _snippet(raw: str | bytes, line: int, column: int) -> tuple[str, str] | None:
    """The offending line (a window of it when long) and a caret under the column."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    lines = raw.split("\n")
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1].rstrip("\r").expandtabs(1)
    start = max(0, min(column - 1 - SNIPPET_WIDTH // 2, len(text) - SNIPPET_WIDTH))
    window = text[start:start + SNIPPET_WIDTH]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + SNIPPET_WIDTH < len(text) else ""
    caret = " " * (len(prefix) + column - 1 - start) + "^"
    return prefix + window + suffix, caret


def namespaces_of(document) -> list[str]:
    """The namespaces named in a (not yet validated) submission, for options that apply to all."""
    students = document["students"] if is_envelope(document) else document
    students = [students] if isinstance(students, dict) else students if isinstance(students, list) else []
    found = {student.get("namespace") or "" for student in students if isinstance(student, dict)}
    return sorted(namespace for namespace in found if isinstance(namespace, str))


class UploadForm(FlaskForm):
    file = FileField("JSON or CSV file", render_kw={"accept": ".json,.csv,application/json,text/csv"})
    text = TextAreaField("Paste JSON or CSV", render_kw={"rows": 8, "spellcheck": "false", "autocomplete": "off"})
    formats = MultiCheckboxField("Formats", choices=format_choices, default=default_formats)
    label = StringField(
        "Label (optional)",
        filters=[_strip],
        validators=[Optional(), storable,
                    Length(max=LABEL_MAX, message=f"Keep the label under {LABEL_MAX} characters.")],
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
    unit_order = StringField(
        "Unit order (optional)", filters=[_strip], validators=[Optional(), storable, Length(max=2000)],
        render_kw={"placeholder": "e.g. 5, 6, 7, 8", "autocomplete": "off", "spellcheck": "false"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.source_errors: list[str] = []
        self.problem: JSONProblem | None = None
        self.problem_field: str | None = None

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
        if not current_app.config["SMTP_HOST"]:
            raise ValidationError("Email is not set up on this server (SMTP_HOST), so reports can't be sent.")
        try:
            parse_recipients(self.recipient_list())
        except SubmissionError as exc:
            raise ValidationError("; ".join(exc.details.values())) from None

    def validate_formats(self, field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one format.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.has_file and self.has_text:
            self.source_errors.append(
                "Send either a file or pasted text, not both: clear the text box or remove the file."
            )
        elif not self.has_file and not self.has_text:
            self.source_errors.append("Choose a JSON or CSV file, or paste JSON or CSV into the text box.")
        return valid and not self.source_errors

    def validate_window_to(self, field) -> None:
        if field.data and self.window_from.data and field.data < self.window_from.data:
            raise ValidationError("The end date is before the start date.")

    def options(self) -> dict:
        """The report options the form's fields ask for, as an envelope's ``options``."""
        options: dict = {"event_log": bool(self.event_log.data)}
        if self.idle_cutoff_minutes.data is not None:
            options["idle_cutoff_minutes"] = self.idle_cutoff_minutes.data
        window = {key: field.data.isoformat() for key, field in (("from", self.window_from), ("to", self.window_to))
                  if field.data}
        if window:
            options["window"] = window
        return options

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
        included, or CSV), with the email field's recipients; on failure keep the problem for
        the page."""
        raw: str | bytes = self.file.data.read() if self.has_file else self.text.data
        is_csv = self.is_csv(raw)
        try:
            check_object_count(raw, current_app.config["REPORTGEN_MAX_UPLOAD_OBJECTS"], csv=is_csv)
            table = read_csv(raw) if is_csv else None
            document = table.students if table else loads(raw)
            options = self.options()
            order = self.unit_order_list()
            if order:
                options["units"] = {namespace: order for namespace in namespaces_of(document)}
            recipients = self.recipient_list() or None
            return table.upload(recipients, options) if table else parse_upload(document, recipients, options)
        except SubmissionError as exc:
            self._keep_problem(exc, raw, is_csv)
            raise

    def _keep_problem(self, exc: SubmissionError, raw: str | bytes, by_row: bool) -> None:
        problem = JSONProblem(message=exc.message, details=exc.details, by_row=by_row)
        items = list(exc.details.items())
        if by_row:
            items = [(in_words(where), reason) for where, reason in items]
        problem.listed = items[:MAX_LISTED_PROBLEMS]
        problem.more = len(items) - len(problem.listed) + exc.not_shown
        if isinstance(exc, MalformedJSON):
            problem.line, problem.column = exc.line, exc.column
            problem.snippet = _snippet(raw, exc.line, exc.column)
        if self.has_file:
            problem.filename = self.file.data.filename
        self.problem = problem
        self.problem_field = "file" if self.has_file else "text"


STATUS_CHOICES = [
    SelectChoice("", "Any status"),
    SelectChoice(Status.PENDING.value, "Queued"),
    SelectChoice(Status.STARTED.value, "Rendering"),
    SelectChoice(Status.SUCCESS.value, "Done"),
    SelectChoice(Status.FAILURE.value, "Failed"),
]


class HistoryFilterForm(Form):
    """GET filters of the history page (no CSRF: it changes nothing)."""

    student = StringField("Student id contains", filters=[_strip], validators=[Optional(), Length(max=200)])
    namespace = StringField("Namespace contains", filters=[_strip], validators=[Optional(), Length(max=200)])
    status = SelectField("Status", choices=STATUS_CHOICES, default="", validate_choice=False)

    @property
    def active(self) -> dict[str, str]:
        """The filters in use, for the query and for links that keep them."""
        values = {}
        for name in ("student", "namespace"):
            value = (getattr(self, name).data or "")[:200]
            if value:
                values[name] = value
        if self.status.data in {choice.value for choice in STATUS_CHOICES if choice.value}:
            values["status"] = self.status.data
        return values
