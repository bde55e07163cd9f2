"""xAPI statements (xAPI 1.0.3, IEEE 9274.1.1) in: what every Learning Record Store exports.

Learning Locker, Veracity, SCORM Cloud and Ralph export statements; Moodle (its xAPI log store
plugin), Open edX (event-routing-backends) and H5P emit them. One statement is one event:

* ``student_id`` ← the actor's identifier: ``account.name`` — written ``name (homePage)`` when the
  upload has accounts on more than one home page, so two systems' user 7 stay two students —
  else ``mbox`` without ``mailto:``, else ``mbox_sha1sum``, else ``openid``. A Group as actor
  is skipped (counted).
* ``namespace`` ← the course: the first ``context.contextActivities`` ``parent``, then
  ``grouping``, activity whose ``definition.type`` is a course type (:data:`COURSE_TYPES`);
  else the namespace given with the upload, else the default (none).
* ``unit`` ← ``object.id``; its name (``object.definition.name``, English preferred) is carried
  for the report. A statement whose object is an Agent, a Group or another statement is skipped.
* ``type`` ← the verb's ``display`` (English preferred), else the last segment of ``verb.id``.
* ``created_time`` ← ``timestamp``, else ``stored``, else none (an untimed event).
* A statement voided by a ``…/verbs/voided`` statement is left out, and so is the voiding
  statement; a statement whose ``id`` came before is counted once.
* ``id`` ← the statement's ``id``: a class's history takes a statement it stored before for a
  duplicate even when an LRS re-export gives it another ``timestamp``.

The file may be a JSON array of statements, one statement, a StatementResult
(``{"statements": […], "more": …}``) or JSON Lines (one statement per line). Statements are
numbered from 1 in the order they are read — in JSON Lines by their line — and problems name
them: ``statement 12: the actor has no account, mbox, mbox_sha1sum or openid``; only the first
problem of a statement is named. JSON is read by :func:`..submission.loads`, so malformed,
too deeply nested (a statement nested 10,000 deep) or non-UTF-8 input is the same clear error
as reportgen's own format.

Mapping costs little beside parsing: ``bench/intake_bench.py`` measures 20 MiB of realistic
statements detected, parsed, mapped and validated (see BENCHMARKS.md).
"""
from __future__ import annotations

from typing import Any

from ..submission import ROOT, Problems, SubmissionError, raise_if, text_problem, type_name
from .common import (
    DEFAULT_IMPORT_OPTIONS, Imported, ImportOptions, Invalid, Skip, first_seen_order, pick_language, read_json,
    record_time, shown_name, stored_text,
)

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
COURSE_TYPES = frozenset({
    "http://adlnet.gov/expapi/activities/course",
    "https://adlnet.gov/expapi/activities/course",
    "http://id.tincanapi.com/activitytype/lms/course",
    "https://id.tincanapi.com/activitytype/lms/course",
    "https://w3id.org/xapi/cmi5/activitytype/course",
})
FIELDS = {"student_id": "actor", "namespace": "context.contextActivities", "unit": "object.id",
          "type": "verb", "created_time": "timestamp", "id": "id"}
NOT_ACTIVITIES = {"Agent": "an Agent", "Group": "a Group", "StatementRef": "a statement reference",
                  "SubStatement": "a sub-statement"}


def _actor(actor: Any) -> tuple[str | None, str, str | None]:
    """``(home page or None, identifier, display name)`` of an Agent."""
    if actor is None:
        raise Invalid("the actor is missing")
    if not isinstance(actor, dict):
        raise Invalid(f"the actor must be an object, not {type_name(actor)}")
    if actor.get("objectType") == "Group":
        raise Skip("a group as actor")
    name = shown_name(actor.get("name"))
    account = actor.get("account")
    if account is not None:
        if not isinstance(account, dict):
            raise Invalid(f"the actor's account must be an object, not {type_name(account)}")
        home = account.get("homePage")
        return (stored_text(home, "the actor's account homePage"),
                stored_text(account.get("name"), "the actor's account name"), name)
    mbox = actor.get("mbox")
    if mbox is not None:
        mbox = stored_text(mbox, "the actor's mbox")
        return None, mbox[7:] if mbox.lower().startswith("mailto:") else mbox, name
    for key in ("mbox_sha1sum", "openid"):
        if actor.get(key) is not None:
            return None, stored_text(actor[key], f"the actor's {key}"), name
    raise Invalid("the actor has no account, mbox, mbox_sha1sum or openid")


def _course(context: Any) -> str | None:
    """The id of the first course activity among the context's parents, then groupings."""
    activities = context.get("contextActivities") if isinstance(context, dict) else None
    if not isinstance(activities, dict):
        return None
    for kind in ("parent", "grouping"):
        listed = activities.get(kind)
        for activity in [listed] if isinstance(listed, dict) else listed if isinstance(listed, list) else ():
            definition = activity.get("definition") if isinstance(activity, dict) else None
            if isinstance(definition, dict) and definition.get("type") in COURSE_TYPES:
                return stored_text(activity.get("id"), f"the course ({kind}) id")
    return None


def _verb(verb: Any) -> tuple[str, str]:
    """``(verb id, the type to show)``."""
    if verb is None:
        raise Invalid("the verb is missing")
    if not isinstance(verb, dict):
        raise Invalid(f"the verb must be an object, not {type_name(verb)}")
    verb_id = stored_text(verb.get("id"), "the verb id")
    shown = pick_language(verb.get("display"))
    if shown is None or text_problem(shown):
        shown = verb_id.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1] or verb_id
    return verb_id, shown


def _time(statement: dict) -> tuple[str | None, Any]:
    for key in ("timestamp", "stored"):
        if statement.get(key) is not None:
            return record_time(statement[key], f"the {key}")
    return None, None


def read_statement(statement: Any) -> tuple:
    """One statement as ``(statement id, home, actor id, actor name, course, unit, unit name, type,
    time text, moment)``; :class:`Skip` or :class:`Invalid` otherwise. A voiding statement is
    :class:`Skip` with the voided id as ``args[1]``."""
    if not isinstance(statement, dict):
        raise Invalid(f"must be an object (a statement), not {type_name(statement)}")
    statement_id = statement.get("id")
    statement_id = statement_id if isinstance(statement_id, str) and statement_id else None
    verb_id, shown = _verb(statement.get("verb"))
    target = statement.get("object")
    if verb_id == VOIDED:
        voided = target.get("id") if isinstance(target, dict) else None
        raise Skip("a voiding statement (it voids another)", voided if isinstance(voided, str) else None)
    home, actor_id, actor_name = _actor(statement.get("actor"))
    if target is None:
        raise Invalid("the object is missing")
    if not isinstance(target, dict):
        raise Invalid(f"the object must be an object, not {type_name(target)}")
    kind = target.get("objectType")
    if kind in NOT_ACTIVITIES:
        raise Skip(f"the object is {NOT_ACTIVITIES[kind]}, not an activity")
    unit = stored_text(target.get("id"), "the object id")
    definition = target.get("definition")
    unit_name = shown_name(pick_language(definition.get("name"))) if isinstance(definition, dict) else None
    time_text, moment = _time(statement)
    return (statement_id, home, actor_id, actor_name, _course(statement.get("context")), unit,
            unit_name, shown, time_text, moment)


def statements_of(raw: str | bytes) -> tuple[list[Any], list[int] | None]:
    """The statements of the file, and in JSON Lines the line of each (statements are otherwise
    numbered from 1 in order; no list of numbers is made for the common case)."""
    document, lines = read_json(raw)
    if lines is not None:
        return document, lines
    if isinstance(document, dict) and "statements" in document and "actor" not in document:
        document = document["statements"]
        if not isinstance(document, list):
            raise SubmissionError("not xAPI statements", {"statements": f"must be an array of statements, not "
                                                                        f"{type_name(document)}"})
    if isinstance(document, dict):
        return [document], None
    if isinstance(document, list):
        return document, None
    raise SubmissionError("not xAPI statements", {ROOT: (
        f"must be a statement, an array of statements, a StatementResult or JSON Lines, not {type_name(document)}")})


def read_xapi(raw: str | bytes, options: ImportOptions = DEFAULT_IMPORT_OPTIONS) -> Imported:
    """The students of an xAPI file (see the module's docstring); :class:`SubmissionError`
    naming each statement that cannot be read, by its number."""
    statements, lines = statements_of(raw)
    imported = Imported(format="xapi", record="statement", fields=FIELDS, read=len(statements))
    problems = Problems()
    records, seen, voided = [], set(), set()
    homes: set[str] = set()
    for index, statement in enumerate(statements):
        number = lines[index] if lines else index + 1
        try:
            record = read_statement(statement)
        except Skip as skip:
            imported.skipped[skip.args[0]] += 1
            if len(skip.args) > 1 and skip.args[1]:
                voided.add(skip.args[1])
            continue
        except Invalid as invalid:
            problems[imported.place(number)] = invalid.args[0]
            continue
        statement_id = record[0]
        if statement_id is not None:
            if statement_id in seen:
                imported.skipped["a duplicate of an earlier statement (the same id)"] += 1
                continue
            seen.add(statement_id)
        if record[1] is not None:
            homes.add(record[1])
        records.append((number, record))
    raise_if(problems, "xAPI statements")
    scoped = len(homes) > 1
    default_namespace = options.namespace or ""
    timeline = []
    for number, (statement_id, home, actor_id, actor_name, course, unit, unit_name, shown, time_text,
                 moment) in records:
        if statement_id is not None and statement_id in voided:
            imported.skipped["voided by another statement"] += 1
            continue
        student_id = f"{actor_id} ({home})" if scoped and home is not None else actor_id
        namespace = course or default_namespace
        event = {"unit": unit, "type": shown, "created_time": time_text}
        if statement_id is not None:
            event["id"] = statement_id
        imported.add_event(namespace, student_id, event, number, unit_name, actor_name)
        timeline.append((namespace, unit, moment, number))
    imported.unit_order = first_seen_order(timeline)
    return imported

