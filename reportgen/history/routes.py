"""The JSON API of class histories: append events, list and describe classes, set a class's time
zone, erase a student or a class, and a class's summary for a period."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, jsonify, request

from ..api.routes import upload_from_request
from ..domain.csv_export import neutralise
from ..domain.periods import PeriodError, parse_period, parse_timezone, period_from_request
from ..domain.roster import parse_roster, read_roster_csv
from ..domain.submission import loads, type_name
from ..extensions import db
from ..models import SchoolClass
from . import rollup, store
from ..subscriptions.store import reschedule_class
from .roster import replace_roster, roster_of
from .summary import class_summary_for

bp = Blueprint("classes", __name__, url_prefix="/namespaces")


def _class_or_404(namespace: str) -> SchoolClass:
    found = store.find_class(namespace)
    if found is None:
        abort(404, description="no class with this namespace")
    return found


@bp.post("/<path:namespace>/events")
def append_events(namespace: str):
    """Append everything an upload holds; all or nothing, duplicates counted and left out."""
    store.check_namespace(namespace)
    upload, _source = upload_from_request()
    store.check_storable(upload.students, namespace)
    appended = store.append(namespace, upload.students)
    db.session.commit()
    return jsonify(appended.to_dict())


@bp.get("")
def list_classes():
    return jsonify({"namespaces": [store.class_summary(found) for found in store.list_classes()]})


def _described(found: SchoolClass) -> dict:
    return {**store.class_summary(found), "months": store.events_per_month(found),
            "students_list": [{"student_id": row.student_id, "events": row.event_count,
                               "first_event": store.iso_or_none(store.from_microseconds(row.first_event))
                               if row.first_event is not None else None,
                               "last_event": store.iso_or_none(store.from_microseconds(row.last_event))
                               if row.last_event is not None else None}
                              for row in store.students_of(found)]}


@bp.get("/<path:namespace>")
def describe(namespace: str):
    return jsonify(_described(_class_or_404(namespace)))


@bp.put("/<path:namespace>")
def settings(namespace: str):
    """``{"timezone": "Europe/Berlin"}``: the zone whose months and weeks the class's periods are."""
    found = _class_or_404(namespace)
    if not request.is_json:
        abort(415, description=f"send the settings as Content-Type: application/json (got {request.mimetype or 'none'})")
    body = loads(request.get_data(cache=False))
    if not isinstance(body, dict):
        raise PeriodError("$", f"must be an object such as {{\"timezone\": \"Europe/Berlin\"}}, not {type_name(body)}")
    unknown = sorted(set(body) - {"timezone"})
    if unknown:
        raise PeriodError(unknown[0][:100], "is not a class setting; the one setting is timezone")
    if "timezone" in body:
        timezone_name = parse_timezone(body["timezone"])
        if timezone_name != found.timezone:
            found.timezone = timezone_name
            rollup.rebuild_class(found)
            reschedule_class(found)
    db.session.commit()
    return jsonify(store.class_summary(found))


@bp.delete("/<path:namespace>")
def erase_class(namespace: str):
    found = _class_or_404(namespace)
    students, events = store.erase_class(found)
    return jsonify({"namespace": namespace, "students_erased": students, "events_erased": events})


@bp.delete("/<path:namespace>/students/<path:student_id>")
def erase_student(namespace: str, student_id: str):
    """Erase one student's stored events (a right-to-erasure request)."""
    found = _class_or_404(namespace)
    erased = store.erase_student(found, student_id) if len(student_id) <= 1000 and "\x00" not in student_id else None
    if erased is None:
        abort(404, description="this class has no student with this id")
    return jsonify({"namespace": namespace, "student_id": student_id, "events_erased": erased})


@bp.get("/<path:namespace>/summary")
def summary(namespace: str):
    """The class in a period: ``?period=2024-12``, ``?period=2024-W50`` or ``?from=…&to=…``."""
    found = _class_or_404(namespace)
    args = request.args
    if "period" in args:
        period = parse_period(args["period"], found.timezone)
    elif "from" in args or "to" in args:
        period = period_from_request({"window": {key: args.get(key) for key in ("from", "to")}}, found.timezone)
    else:
        raise PeriodError("period", "give ?period=2024-12 (a month), ?period=2024-W50 (an ISO week) "
                                    "or ?from=2024-12-01&to=2024-12-10")
    return jsonify(class_summary_for(found, period))


@bp.put("/<path:namespace>/roster")
def put_roster(namespace: str):
    """Replace the class's roster: a JSON array of ``{"student_id", "name", "email"}`` or a CSV
    (``text/csv``) with those columns; all or nothing."""
    found = _class_or_404(namespace)
    if request.mimetype == "text/csv":
        document = read_roster_csv(request.get_data(cache=False))
    elif request.is_json:
        document = loads(request.get_data(cache=False))
    else:
        abort(415, description="send the roster as Content-Type: application/json (an array of "
                               "{student_id, name, email}) or text/csv (columns student_id, name, email); "
                               f"got {request.mimetype or 'none'}")
    entries = parse_roster(document)
    replace_roster(found, entries)
    db.session.commit()
    return jsonify({"namespace": found.namespace, "students": len(entries),
                    "with_name": sum(1 for entry in entries if entry.name),
                    "with_email": sum(1 for entry in entries if entry.email)})


@bp.get("/<path:namespace>/roster")
def get_roster(namespace: str):
    """The class's roster as JSON, or as CSV with ``?format=csv`` (cells a spreadsheet would run
    as formulas neutralised, as every CSV of ours)."""
    found = _class_or_404(namespace)
    entries = roster_of(found)
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(("student_id", "name", "email"))
        for entry in entries:
            writer.writerow((neutralise(entry.student_id), neutralise(entry.name or ""), neutralise(entry.email or "")))
        return Response(out.getvalue(), mimetype="text/csv")
    return jsonify({"namespace": found.namespace, "roster": [entry.to_dict() for entry in entries]})
