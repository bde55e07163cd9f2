"""Submit, sequence, poll and download reports."""
from __future__ import annotations

import codecs
import functools
import hashlib
import io
import logging
import re
import struct
import zipfile

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, send_file, stream_with_context
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.clients import current_client, idempotency_scope
from ..delivery import webhooks
from ..domain.canonical_json import canonical_pieces
from ..domain.csv_export import TABLES, render_table
from ..domain.csv_import import parse_csv
from ..domain.figures import zone
from ..domain.filenames import (content_disposition, download_name, excel_name, student_download_name,
                                table_download_name)
from ..domain.options import options_from_dict
from ..domain.preparation import prepare
from ..domain.sequencing import sequence_response
from ..domain.importers import FORMATS as IMPORT_FORMATS
from ..domain.importers import ImportOptions, choose, own_input, parse_import_options, read_import
from ..domain.submission import EmptySubmission, SubmissionError, check_upload_size, is_blank, loads
from ..domain.upload import Upload, parse_upload
from ..errors import error_response
from ..history.reports import UnknownClass, is_period_request, submit_period
from ..history.store import keep_upload
from ..extensions import db
from ..logs import current_task_id
from ..models import Report, ReportItem, Status
from ..pipeline.cancel import discard_report
from ..pipeline.status import gone_message, report_metadata, status_page_url
from ..pipeline.status import report_status as report_status_body
from ..pipeline.stored import find_report as find_task
from ..pipeline.stored import submission_reports
from ..pipeline.stored import student_document as stored_student_document
from ..pipeline.submit import (IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY, Idempotency, KeyInUse, QueueUnavailable,
                               create_report, idempotent_report, submit_upload)
from ..render import formats
from ..security import sandbox_report

bp = Blueprint("api", __name__, url_prefix="/assignment")

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv",)
BOM = codecs.BOM_UTF8
#: Positions are 32-bit integers in the database; a larger one names no student (and SQLite
#: cannot even bind it).
MAX_POSITION = 2**31 - 1


def _is_json_type(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def request_body() -> bytes:
    """The whole body, or 413 when it is over ``MAX_CONTENT_LENGTH``: also a chunked body
    (no ``Content-Length``), which Werkzeug would silently cut at the limit."""
    body = request.get_data(cache=False)
    limit = request.max_content_length
    if (request.content_length is None and limit is not None and len(body) >= limit
            and request.environ["wsgi.input"].read(1)):
        raise RequestEntityTooLarge()
    return body


#: Query parameters that say how to read an upload in another platform's format (issue 21).
IMPORT_PARAMETERS = ("input", "namespace", "day_first", "timezone", "exclude_users")


def import_query() -> tuple[str | None, ImportOptions]:
    """``?input=`` and the import options of the query string; 400 naming the parameter."""
    requested = request.args.get("input")
    if requested not in (None, "", "auto") and requested not in IMPORT_FORMATS:
        raise SubmissionError("invalid input", {"input": (
            f"must be one of auto, {', '.join(IMPORT_FORMATS)}, not {requested[:40]!r}")})
    return requested, parse_import_options({name: request.args.get(name) for name in IMPORT_PARAMETERS[1:]})


def upload_from_request(body: bytes | None = None, *, several: bool = False) -> tuple[Upload, dict]:
    """Validate the body (read here unless given): 415 unless JSON or CSV, 413 if too large, 400
    with field paths (rows and columns for CSV; statements, events or rows of another platform's
    file) if invalid; and what it was read as. The format is detected from the body unless
    ``?input=`` names it; xAPI, Moodle and Caliper files are read by the importers. A CSV and
    another platform's file have no envelope, so no email or options; nor ``formats``, which
    ``several`` (``POST /assignment``) requires."""
    limit = current_app.config["REPORTGEN_MAX_UPLOAD_OBJECTS"]
    if not _is_json_type(request.mimetype) and request.mimetype not in CSV_TYPES:
        abort(415, description=(
            "send the submission as Content-Type: application/json or text/csv "
            f"(got {request.mimetype or 'none'})"
        ))
    requested, import_options = import_query()
    body = request_body() if body is None else body
    if is_blank(body):
        raise EmptySubmission("request body")
    input_format = choose(body, requested)
    if several and (input_format != "reportgen" or not _is_json_type(request.mimetype)):
        raise SubmissionError("invalid submission", {"formats": (
            'is required, and only a JSON envelope {"students": [...], "formats": [...]} has it; '
            "POST a CSV or another platform's file to /assignment/<format>, once per format")})
    if input_format != "reportgen":
        return read_import(body, input_format, import_options, object_limit=limit,
                           email_available=bool(current_app.config["SMTP_HOST"]))
    if _is_json_type(request.mimetype):
        document = g.pop("submitted_document", None)  # parsed for its Idempotency-Key
        if document is None:
            check_upload_size(body, limit)
            document = loads(body)
        del body  # not held while the document is validated: one body less at the parse's peak
        upload = parse_upload(document, email_available=bool(current_app.config["SMTP_HOST"]),
                              check_callback_url=functools.partial(webhooks.check_submitted,
                                                                   config=current_app.config),
                              known_formats=formats.NAMES if several else None)
    else:
        check_upload_size(body, limit, csv=True)
        upload = parse_csv(body)
    return upload, own_input(upload)


@bp.post("/sequence")
def sequence():
    """The labels and each student's sequence; with ``?metrics=1`` also each student's
    metrics and each class's ranges, as a finished report's JSON metadata has them."""
    upload, source = upload_from_request()
    metrics = request.args.get("metrics", "0")
    if metrics not in ("0", "1"):
        abort(400, description="metrics must be 0 or 1")
    prepared = prepare(upload.students, upload.options)
    body = sequence_response(prepared.students, prepared.labels)
    body["input"] = source
    if metrics == "1":
        for student, student_metrics in zip(body["students"], prepared.metrics):
            student["metrics"] = student_metrics
        body["cohort"] = prepared.cohorts
        body["options"] = prepared.options.to_dict()
    return jsonify(body)


@bp.post("/<report_format>")
def submit(report_format: str):
    if report_format not in formats.FORMATS:
        abort(404, description=(f"unknown report format {report_format!r}; "
                                f"use one of: {', '.join(formats.FORMATS)}"))
    idempotency = idempotency_from_request(report_format)
    if idempotency is not None and (earlier := idempotent_report(idempotency)) is not None:
        return replay(earlier, idempotency)
    period_request = _period_request(None if idempotency is None else g.submitted_body)
    body = g.get("submitted_body")
    try:
        if period_request is not None:
            report = submit_period(period_request, report_format, idempotency)
        else:
            upload, source = upload_from_request(body)
            if upload.keep:
                keep_upload(upload.students)
            report = create_report(upload.students, report_format, label=upload.label, recipients=upload.recipients,
                                   callback_url=upload.callback_url, options=upload.options,
                                   owner=current_client(), idempotency=idempotency, source=source)
    except UnknownClass:
        abort(404, description="no class with this namespace")
    except QueueUnavailable as exc:
        response = error_response(503, str(exc), {"task_id": exc.report.id})
        response.headers["Retry-After"] = "30"
        return response
    except KeyInUse:
        return replay(idempotent_report(idempotency), idempotency)
    return accepted(report)


@bp.post("")
def submit_formats():
    """One upload, one report per format of its envelope's ``formats``: the upload is read and
    prepared once, the reports share one submission (one status page, one email to each
    recipient with every format, as the upload form makes them), each has its own webhook. The
    ``Idempotency-Key`` covers the whole submit: the first report holds it, and a replay answers
    with every report of its submission."""
    idempotency = idempotency_from_request(SEVERAL)
    if idempotency is not None and (earlier := idempotent_report(idempotency)) is not None:
        return replay(earlier, idempotency)
    upload, source = upload_from_request(g.get("submitted_body"), several=True)
    if upload.keep:
        keep_upload(upload.students)
    try:
        reports = submit_upload(upload.students, list(upload.formats), upload.label, upload.recipients,
                                upload.options, owner=current_client(), source=source,
                                callback_url=upload.callback_url, idempotency=idempotency)
    except KeyInUse:
        return replay(idempotent_report(idempotency), idempotency)
    if any(report.status == Status.FAILURE.value for report in reports):  # only the queue fails a new report
        response = error_response(503, str(QueueUnavailable(reports[0])),
                                  {"task_ids": ", ".join(report.id for report in reports)})
        response.headers["Retry-After"] = "30"
        return response
    return accepted_upload(reports)


#: What an ``Idempotency-Key``'s digest names as the format of a submit of several (``POST /assignment``).
SEVERAL = "*"


def accepted_upload(reports: list[Report]) -> Response:
    """The answer to a submit of several formats: every report's status, their task ids and the
    one status page that lists them, in the order that page lists them (the registry's order of
    formats, whatever order the request gave), the same in a replay."""
    reports = formats.in_format_order(reports)
    lead = reports[0]
    page = status_page_url(lead)
    response = jsonify({
        "submission_id": lead.submission_id,
        "label": lead.label,
        "task_ids": [report.id for report in reports],
        "formats": [report.format for report in reports],
        "status_page_url": page,
        "reports": [report_status_body(report) for report in reports],
    })
    response.status_code = 202
    response.headers["Location"] = page
    return response


#: A period report's request is a small JSON object; a body larger than this is an upload.
MAX_PERIOD_REQUEST = 64 * 1024


def _period_request(body: bytes | None) -> dict | None:
    """The request for a report from a class's history (``{"namespace", "period" | "window"}``), if it is one."""
    if not _is_json_type(request.mimetype):
        return None
    body = request_body() if body is None else body
    g.submitted_body = body
    if len(body) > MAX_PERIOD_REQUEST or b'"namespace"' not in body or is_blank(body):
        return None
    document = loads(body)
    return document if is_period_request(document) else None


def accepted(report: Report) -> Response:
    body = report_status_body(report)
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["status_url"]
    return response


#: The draft's value: a Structured Fields string (quoted, ``\"`` and ``\\`` escaped) or, leniently, bare text.
QUOTED_KEY = re.compile(r'"((?:[^"\\]|\\["\\])*)"')
MORE_THAN_ONE = ("send it once: the request has more than one (a server joins repeated headers with a comma; "
                 "quote a key that holds one)")


def _idempotency_key(values: list[str]) -> tuple[str, str | None]:
    """The key of the header's values and what is wrong with them (None if nothing). Repeated
    headers arrive joined by commas (gunicorn, Werkzeug), so a comma outside quotes is a second key."""
    if len(values) > 1:
        return "", MORE_THAN_ONE
    value = values[0].strip()
    if value.startswith('"'):
        quoted = QUOTED_KEY.match(value)
        if quoted is None:
            return "", 'a quoted key must end with its closing quote (and escape " and \\ inside)'
        if quoted.end() != len(value):
            return "", MORE_THAN_ONE if value[quoted.end():].lstrip().startswith(",") else (
                "nothing may follow the closing quote")
        key = quoted.group(1)
    elif "," in value:
        return "", MORE_THAN_ONE
    else:
        key = value
    problem = ("it is empty" if not key
               else f"it is longer than {MAX_IDEMPOTENCY_KEY} characters" if len(key) > MAX_IDEMPOTENCY_KEY
               else "use printable ASCII characters only" if not all(" " <= char <= "~" for char in key) else None)
    return key, problem


def idempotency_from_request(report_format: str) -> Idempotency | None:
    """The submit's ``Idempotency-Key`` (IETF httpapi draft; a Structured Fields string, quoted or
    not), scoped to the client, with the SHA-256 of the format, content type, how to read the body
    (the import parameters) and the body (kept in ``g.submitted_body``): a JSON body's parsed
    content, so that the same JSON sent again with other whitespace or key order is the same
    request (kept parsed in ``g.submitted_document`` for the upload), any other body's bytes.
    None without the header; 400 for a malformed one or more than one."""
    values = request.headers.getlist(IDEMPOTENCY_HEADER)
    if not values:
        return None
    key, problem = _idempotency_key(values)
    if problem:
        abort(error_response(400, f"the {IDEMPOTENCY_HEADER} header is not valid: {problem}",
                             {IDEMPOTENCY_HEADER: problem}))
    g.submitted_body = request_body()
    how = "&".join(f"{name}={request.args.get(name, '')}" for name in IMPORT_PARAMETERS).encode()
    digest = hashlib.sha256(b"\0".join([report_format.encode(), request.mimetype.encode(), how, b""]))
    document = _parsed_json(g.submitted_body)
    if document is None:
        digest.update(g.submitted_body)
    else:  # the content, not its spelling: whitespace and key order aside, streamed into the hash
        g.submitted_document = document
        for piece in canonical_pieces(document):
            digest.update(piece.encode("utf-8"))
    return Idempotency(idempotency_scope(), key, digest.hexdigest())


def _parsed_json(body: bytes) -> object | None:
    """A JSON body parsed (within the upload's bounds, which are checked first), or None for
    one that is not JSON, too large or malformed: that one is hashed as it is, and refused
    with its own error when it is read as an upload."""
    if not _is_json_type(request.mimetype) or is_blank(body):
        return None
    try:
        check_upload_size(body, current_app.config["REPORTGEN_MAX_UPLOAD_OBJECTS"])
        return loads(body)
    except SubmissionError:
        return None


def replay(earlier: Report | None, idempotency: Idempotency) -> Response:
    """The answer to a key used before: the first report's status now, or 422 for another request."""
    if earlier is None:  # the first submit gave its key up (its queue was down) after winning
        response = error_response(409, f"a submit with this {IDEMPOTENCY_HEADER} was just refused; send it again")
        response.headers["Retry-After"] = "1"
        return response
    if earlier.request_digest != idempotency.digest:
        return error_response(422, f"this {IDEMPOTENCY_HEADER} was already used for a different request "
                                   "(another format or body) in the last 24 hours; use a new key",
                              {IDEMPOTENCY_HEADER: "already used for a different request"})
    current_task_id.set(earlier.id)
    response = accepted(earlier) if earlier.submission_id is None else accepted_upload(submission_reports(earlier))
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _wants_metadata(report: Report) -> bool:
    best = request.accept_mimetypes.best_match([formats.get(report.format).mimetype, "application/json"])
    return best == "application/json"


def _wants_bom(report: Report) -> bool:
    """``?bom=1``: a CSV download starts with a UTF-8 byte-order mark, so that Excel reads it
    as UTF-8 instead of the local code page (which garbles every non-Latin name). Added at
    download time; the stored document stays without one."""
    bom = request.args.get("bom", "0")
    if bom not in ("0", "1"):
        abort(400, description="bom must be 0 or 1")
    if bom == "1" and report.format != "csv":
        abort(400, description="bom=1 is for CSV downloads only")
    return bom == "1"


def _wanted_table(report: Report, *, whole: bool = True) -> str:
    """``?table=``: a CSV report's event log (``events``, the default) or one of its summary
    tables (``students``, ``units``); a 400 naming ``table`` for anything else."""
    table = request.args.get("table", "events")
    if table not in TABLES:
        abort(error_response(400, f"table must be one of {', '.join(TABLES)}", {"table": f"unknown table {table[:40]!r}"}))
    if table != "events" and report.format != "csv":
        abort(error_response(400, "table is for CSV reports only", {"table": f"not for a {report.format} report"}))
    if table != "events" and not whole:
        abort(error_response(400, "a summary table is of the whole report",
                             {"table": "ask the report's own URL, not a student's"}))
    return table


def summary_table(report: Report, table: str, bom: bool) -> Response:
    """A CSV report's ``students`` or ``units`` table, made now from the figures stored for
    its students that succeeded (read a hundred at a time), times in the report's zone."""
    rows = db.session.execute(
        select(ReportItem.position, ReportItem.student_id, ReportItem.namespace, ReportItem.metrics)
        .where(ReportItem.report_id == report.id, ReportItem.status == Status.SUCCESS.value)
        .order_by(ReportItem.position).execution_options(yield_per=100))
    options = options_from_dict(report.options)
    content = render_table(table, ((position + 1, student_id, namespace, metrics)
                                   for position, student_id, namespace, metrics in rows), zone(options.timezone),
                           options.student_name)
    return download(report, content, hashlib.sha256(content).hexdigest(),
                    table_download_name(report, table, bom), bom=bom)


def find_report(report_format: str, task_id: str) -> Report:
    report = find_task(task_id)
    if report is None or report.format != report_format:
        abort(404, description=f"no {report_format} report with task id {task_id!r}")
    current_task_id.set(report.id)
    return report


@bp.get("/<report_format>/<task_id>")
def report_status(report_format: str, task_id: str):
    report = find_report(report_format, task_id)
    bundle = request.args.get("bundle")
    if bundle is not None and bundle != "zip":
        abort(400, description="bundle must be 'zip'")
    bom = _wants_bom(report)
    table = _wanted_table(report)
    if table != "events" and bundle is not None:
        abort(error_response(400, "a ZIP bundle holds the students' event logs",
                             {"table": "not with bundle=zip"}))
    if report.status in (Status.PENDING.value, Status.STARTED.value):
        response = jsonify(report_status_body(report))
        response.status_code = 202
        response.headers["Retry-After"] = "1"
        return response
    if report.status in (Status.FAILURE.value, Status.CANCELED.value):
        response = jsonify(report_status_body(report))
        response.status_code = 500 if report.status == Status.FAILURE.value else 410
        return response
    if report.purged_at is not None and not _wants_metadata(report):
        abort(410, description=gone_message(report))
    if bundle == "zip":
        return zip_bundle(report, bom)
    if _wants_metadata(report):
        return jsonify(report_metadata(report))
    if table != "events":
        return summary_table(report, table, bom)
    return download(report, filename=table_download_name(report, table, bom) if bom else None, bom=bom)


@bp.delete("/<report_format>/<task_id>")
def discard(report_format: str, task_id: str):
    """Cancel a pending or running report, or delete a finished one's input and documents;
    either way the row stays, so its status says what happened (and downloads answer 410).
    Deleting again changes nothing and answers the same."""
    report = find_report(report_format, task_id)
    discard_report(report)
    return jsonify(report_status_body(report))


@bp.get("/<report_format>/<task_id>/students/<int:position>")
def student_document(report_format: str, task_id: str, position: int):
    """One student's own document (positions count from 0 in upload order)."""
    report = find_report(report_format, task_id)
    if report.purged_at is not None:
        abort(410, description=gone_message(report))
    if report.status == Status.CANCELED.value:
        abort(410, description=report.error)
    bom = _wants_bom(report)
    _wanted_table(report, whole=False)
    item = db.session.scalar(
        select(ReportItem).where(ReportItem.report_id == report.id, ReportItem.position == position)
    ) if position <= MAX_POSITION else None
    if item is None:
        abort(404, description=f"report {task_id} has no student at position {position}")
    if item.status != Status.SUCCESS.value:
        body = {"task_id": report.id, "position": position, "student_id": item.student_id,
                "status": item.status, "error": item.error}
        return jsonify(body), 500 if item.status == Status.FAILURE.value else 202
    content = stored_student_document(report, item)
    stored_digest = item.sha256 if item.content is not None else None  # else rendered now: its own digest
    return download(report, content, stored_digest or hashlib.sha256(content).hexdigest(),
                    excel_name(student_download_name(report, position, item.student_id), bom), bom=bom)


class _Sink:
    """A write-only file for ``zipfile`` whose bytes are handed out as they are written."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


#: The name of the entry a ZIP ends on when its report is deleted while it streams.
CUT_OFF_ENTRY = b"INCOMPLETE-the-report-was-deleted-while-this-archive-was-sent"


def damaged_ending() -> bytes:
    """What ends a ZIP whose report was deleted while it streamed: the local header of one more
    entry that promises a mebibyte and never sends it. A reader of the central directory finds
    none (Python's ``zipfile``, Info-ZIP ``unzip``, 7-Zip, Windows, macOS); a reader of the
    entries in order (Java's ``ZipInputStream``, libarchive) runs out of data inside this one.
    Either way the archive says it is damaged instead of passing for a smaller complete one."""
    promised = 1 << 20
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, promised, promised,
                       len(CUT_OFF_ENTRY), 0) + CUT_OFF_ENTRY


def _deleted(report_id: str) -> bool:
    """Whether a report's input and documents were deleted (or it was canceled) since it was read."""
    db.session.rollback()
    row = db.session.execute(select(Report.purged_at, Report.status).where(Report.id == report_id)).first()
    return row is None or row.purged_at is not None or row.status == Status.CANCELED.value


def zip_bundle(report: Report, bom: bool = False) -> Response:
    """Every student's document in one ZIP, streamed one student at a time (each with a
    byte-order mark when ``bom``). If the report is deleted meanwhile, the archive ends
    damaged (:func:`damaged_ending`), and a line in the log says so."""
    item_ids = db.session.scalars(
        select(ReportItem.id).where(ReportItem.report_id == report.id, ReportItem.status == Status.SUCCESS.value)
        .order_by(ReportItem.position)
    ).all()

    report_id = report.id

    def student_entry(streamed: Report, item_id: int, parts: dict) -> tuple[str, bytes] | None:
        """One student's name and document, or None when the report was deleted meanwhile."""
        try:
            item = db.session.get(ReportItem, item_id)
            if item is None:
                return None
            entry = (student_download_name(streamed, item.position, item.student_id),
                     (BOM if bom else b"") + stored_student_document(streamed, item, parts))
            db.session.expunge(item)
            return entry
        except Exception:
            if _deleted(report_id):
                return None
            raise

    def generate():
        sink, parts = _Sink(), {}
        streamed = db.session.get(Report, report_id)  # this response outlives the request's session
        archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)
        for item_id in item_ids:
            entry = student_entry(streamed, item_id, parts)
            if entry is None:
                log.info("the ZIP of report %s was cut off: the report was deleted while it was sent", report_id)
                yield sink.drain() + damaged_ending()
                return
            archive.writestr(*entry)
            yield sink.drain()
        archive.close()
        yield sink.drain()

    name = excel_name(download_name(report).rsplit(".", 1)[0] + f"-{report.format}.zip", bom)
    response = Response(stream_with_context(generate()), content_type="application/zip")
    response.headers["Content-Disposition"] = content_disposition("attachment", name)
    return response


def download(report: Report, content: bytes | None = None, sha256: str | None = None,
             filename: str | None = None, bom: bool = False) -> Response:
    """Stored bytes (the report's unless given, after a byte-order mark when ``bom``): HTML
    inline, the rest as attachments, cacheable by the sha256 of what is sent (``send_file``
    answers conditional and range requests)."""
    report_format = formats.get(report.format)
    content = report.content if content is None else content
    if bom:
        content = BOM + content
        sha256 = hashlib.sha256(content).hexdigest()
    response = send_file(io.BytesIO(content), mimetype=report_format.mimetype, conditional=True,
                         etag=sha256 or report.sha256 or False, max_age=0, last_modified=report.finished_at)
    response.headers["Content-Disposition"] = content_disposition(report_format.disposition,
                                                                  filename or download_name(report))
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    if report_format.inline:
        sandbox_report(response)
    return response
