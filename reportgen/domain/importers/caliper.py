"""IMS Caliper events (1.1 and 1.2) in: what Canvas Live Events and many vendor tools send.

The file is an envelope ``{"sensor", "sendTime", "dataVersion", "data": [events]}``, a list of
events (or of envelopes, as a log of deliveries is), one event, or JSON Lines of envelopes or
events (one message a line, as a queue's messages are often saved). One event is one event:

* ``student_id`` ← ``actor.id`` — for Canvas, the actor's ``com.instructure.canvas`` extension
  ``user_login``, else ``user_sis_id``, when present (a login a teacher recognises instead of
  ``urn:instructure:canvas:user:21070000000000001``). An actor that is a SoftwareApplication
  (an autograder, Canvas itself) is skipped.
* ``namespace`` ← ``group.id``, or the group's ``courseNumber`` when it has no id; else the
  namespace given with the upload, else the default (none).
* ``unit`` ← ``object.id``; its name for the report is Canvas's ``asset_name`` extension when
  present (Canvas's ``object.name`` is often the kind of thing, ``attachment``), else
  ``object.name``.
* ``type`` ← ``action`` (``NavigatedTo``, ``Submitted``); ``created_time`` ← ``eventTime``
  (an event without one is untimed); ``id`` ← the event's ``id`` (a class's history takes an
  event whose id it stored before for a duplicate).

Caliper lets an event refer to an entity by its IRI alone (``"actor": "https://…/users/554433"``)
and describe it elsewhere in the same envelope: entities in ``data`` (objects with no
``action``) are read for their type and name, and counted as skipped ("an entity description,
not an event"). Events are numbered from 1 across the file, entities included; an event with the
``id`` of an earlier one is counted once.
"""
from __future__ import annotations

from typing import Any

from ..submission import ROOT, Problems, SubmissionError, raise_if, type_name
from .common import (
    DEFAULT_IMPORT_OPTIONS, Imported, ImportOptions, Invalid, Skip, first_seen_order, read_json, record_time,
    shown_name, stored_text,
)

CANVAS = "com.instructure.canvas"
SOFTWARE = "SoftwareApplication"
FIELDS = {"student_id": "actor", "namespace": "group", "unit": "object.id", "type": "action",
          "created_time": "eventTime", "id": "id"}


def _is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and "data" in value and ("sensor" in value or "sendTime" in value)


def items_of(document: Any) -> list[Any]:
    """Every event and entity of the file, in order: an envelope's ``data``, a list's items (an
    envelope among them is opened), or the one event."""
    if _is_envelope(document):
        document = [document]
    if isinstance(document, dict):
        return [document]
    if not isinstance(document, list):
        raise SubmissionError("not Caliper events", {ROOT: (
            f"must be a Caliper envelope, a list of events or one event, not {type_name(document)}")})
    items: list[Any] = []
    for item in document:
        if _is_envelope(item):
            data = item["data"]
            if not isinstance(data, list):
                raise SubmissionError("not Caliper events", {ROOT: (
                    f"an envelope's data must be an array of events, not {type_name(data)}")})
            items.extend(data)
        else:
            items.append(item)
    return items


def _entity(value: Any, described: dict[str, dict], what: str, required: bool = True) -> dict | None:
    """An event's entity as an object, an IRI reference resolved from the entities described in
    the file (an unknown IRI as ``{"id": iri}``)."""
    if value is None:
        if required:
            raise Invalid(f"the {what} is missing")
        return None
    if isinstance(value, str):
        return described.get(value) or {"id": value}
    if not isinstance(value, dict):
        raise Invalid(f"the {what} must be an object or an IRI, not {type_name(value)}")
    return value


def _canvas(entity: dict, key: str) -> Any:
    extensions = entity.get("extensions")
    canvas = extensions.get(CANVAS) if isinstance(extensions, dict) else None
    return canvas.get(key) if isinstance(canvas, dict) else None


def read_event(event: dict, described: dict[str, dict]) -> tuple:
    """``(event id, actor id, actor name, group, unit, unit name, action, time text, moment)``."""
    actor = _entity(event.get("actor"), described, "actor")
    if actor.get("type") == SOFTWARE:
        raise Skip("a software application as actor")
    actor_id = None
    for key in ("user_login", "user_sis_id"):
        value = _canvas(actor, key)
        if isinstance(value, str) and value.strip():
            actor_id = stored_text(value, f"the actor's Canvas {key}")
            break
    if actor_id is None:
        actor_id = stored_text(actor.get("id"), "the actor id")
    target = _entity(event.get("object"), described, "object")
    unit = stored_text(target.get("id"), "the object id")
    unit_name = shown_name(_canvas(target, "asset_name")) or shown_name(target.get("name"))
    group = _entity(event.get("group"), described, "group", required=False)
    namespace = None
    if group is not None:
        if group.get("id") is not None:
            namespace = stored_text(group["id"], "the group id")
        elif group.get("courseNumber") is not None:
            namespace = stored_text(group["courseNumber"], "the group's courseNumber")
    action = stored_text(event.get("action"), "the action")
    time_text, moment = (None, None) if event.get("eventTime") is None else record_time(event["eventTime"],
                                                                                         "the eventTime")
    event_id = event.get("id") if isinstance(event.get("id"), str) and event.get("id") else None
    return event_id, actor_id, shown_name(actor.get("name")), namespace, unit, unit_name, action, time_text, moment


def read_caliper(raw: str | bytes, options: ImportOptions = DEFAULT_IMPORT_OPTIONS) -> Imported:
    """The students of a Caliper file (see the module's docstring); :class:`SubmissionError`
    naming each event that cannot be read, by its number."""
    items = items_of(read_json(raw)[0])
    imported = Imported(format="caliper", record="event", fields=FIELDS, read=len(items))
    described = {item["id"]: item for item in items
                 if isinstance(item, dict) and "action" not in item and isinstance(item.get("id"), str)}
    problems = Problems()
    seen: set[str] = set()
    timeline = []
    default_namespace = options.namespace or ""
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems[imported.place(number)] = f"must be an object (an event), not {type_name(item)}"
            continue
        if "action" not in item:
            imported.skipped["an entity description, not an event"] += 1
            continue
        try:
            event_id, actor_id, actor_name, group, unit, unit_name, action, time_text, moment = read_event(
                item, described)
        except Skip as skip:
            imported.skipped[skip.args[0]] += 1
            continue
        except Invalid as invalid:
            problems[imported.place(number)] = invalid.args[0]
            continue
        if event_id is not None:
            if event_id in seen:
                imported.skipped["a duplicate of an earlier event (the same id)"] += 1
                continue
            seen.add(event_id)
        namespace = group or default_namespace
        event = {"unit": unit, "type": action, "created_time": time_text}
        if event_id is not None:
            event["id"] = event_id
        imported.add_event(namespace, actor_id, event, number, unit_name, actor_name)
        timeline.append((namespace, unit, moment, number))
    raise_if(problems, "Caliper events")
    imported.unit_order = first_seen_order(timeline)
    return imported
