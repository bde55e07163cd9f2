"""Database reads of the pages, portable across SQLite and PostgreSQL."""
from __future__ import annotations

import json

from sqlalchemy import Select, Text, cast, false, func, literal, or_, orm, select

from ..auth.clients import visible_to_client
from ..domain.submission import text_problem
from ..extensions import db
from ..models import Report
from ..render.formats import in_format_order

LIKE_ESCAPE = "!"
NAMESPACE_SUGGESTIONS_FROM = 200


def _like_escape(text: str) -> str:
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace(
        "_", LIKE_ESCAPE + "_")


def json_array_contains_text(column, term: str):
    """Some string in the JSON array ``column`` contains ``term``, case-insensitively.

    The array is compared as its JSON text (``CAST … AS TEXT``, the same on both databases),
    so the term is JSON-encoded the way it is stored: quotes and backslashes escaped, and
    non-ASCII as ``\\uXXXX`` (json.dumps's default) or verbatim. An encoded term cannot match
    across two strings, because their separating quotes are never escaped. ``lower()`` runs
    on both sides in the database, so case-folding is whatever that database does. A term with a
    NUL matches nothing: no stored string has one (submissions refuse it), and PostgreSQL
    refuses it in a query.
    """
    if text_problem(term):
        return false()
    haystack = func.lower(cast(column, Text))
    encodings = {json.dumps(term)[1:-1], json.dumps(term, ensure_ascii=False)[1:-1]}
    return or_(*(
        haystack.like(func.lower(literal(f"%{_like_escape(encoded)}%", Text)), escape=LIKE_ESCAPE)
        for encoded in sorted(encodings)
    ))


def upload_key():
    """What one upload's reports share: the form submission's id, or an API report's own id
    (a report submitted without one is an upload of its own)."""
    return func.coalesce(Report.submission_id, Report.id)


def text_contains(column, term: str):
    """``column`` contains ``term``, case-insensitively, ``%`` and ``_`` taken literally."""
    if text_problem(term):
        return false()
    return func.lower(column).like(func.lower(literal(f"%{_like_escape(term)}%", Text)), escape=LIKE_ESCAPE)


def history_query(filters: dict[str, str]) -> Select:
    """The keys of the uploads (see :func:`upload_key`) with a report that matches the filters,
    newest first: ``q`` in the label or in a student id, ``namespace``, ``status``. A page of it
    is a page of uploads, whatever their number of formats; :func:`upload_rows` loads them."""
    key = upload_key()
    query = select(key.label("upload")).where(visible_to_client(Report))
    if filters.get("q"):
        query = query.where(or_(text_contains(Report.label, filters["q"]),
                                json_array_contains_text(Report.student_ids, filters["q"])))
    if filters.get("namespace"):
        query = query.where(json_array_contains_text(Report.namespaces, filters["namespace"]))
    if filters.get("status"):
        query = query.where(Report.status == filters["status"])
    return query.group_by(key).order_by(func.max(Report.created_at).desc(), key.desc())


def upload_rows(keys: list[str]) -> list[list[Report]]:
    """The reports of each upload of ``keys`` (every format, not only those that matched), in
    the order of ``keys``, each upload's in format order."""
    if not keys:
        return []
    reports = db.session.scalars(
        select(Report).options(orm.defer(Report.summary))
        .where(or_(Report.submission_id.in_(keys), Report.id.in_(keys)), visible_to_client(Report))
    ).all()
    uploads: dict[str, list[Report]] = {key: [] for key in keys}
    for report in reports:
        uploads.get(report.submission_id or report.id, []).append(report)
    return [in_format_order(uploads[key]) for key in keys if uploads[key]]


def recent_namespaces() -> list[str]:
    """Namespaces of recent reports, as suggestions for the filter."""
    rows = db.session.scalars(
        select(Report.namespaces).where(visible_to_client(Report))
        .order_by(Report.created_at.desc()).limit(NAMESPACE_SUGGESTIONS_FROM)
    ).all()
    return sorted({namespace for namespaces in rows for namespace in namespaces or () if namespace})[:50]
