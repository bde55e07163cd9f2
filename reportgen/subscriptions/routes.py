"""The JSON API of subscriptions: ``/subscriptions``. A subscription is its creator's: another
token's is not found (404), as a report or a class is."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, request
from redis.exceptions import RedisError

from ..auth.clients import current_client
from ..delivery import webhooks
from ..domain.options import parse_options
from ..domain.periods import parse_period
from ..domain.schedules import parse_subscription
from ..domain.submission import Problems, loads, raise_if
from ..domain.upload import parse_callback_url
from ..extensions import db
from ..history import store as history_store
from ..models import Subscription, SubscriptionRun, utcnow
from ..pipeline.queue import enqueue_subscription_run
from ..render.formats import NAMES
from . import store

bp = Blueprint("subscriptions", __name__, url_prefix="/subscriptions")


def _body() -> object:
    if not request.is_json:
        abort(415, description=f"send the subscription as Content-Type: application/json (got {request.mimetype or 'none'})")
    return loads(request.get_data(cache=False))


def _checked(document: object, current: dict | None = None) -> dict:
    """The subscription's fields, with its options and callback URL checked as an upload's are."""
    fields = parse_subscription(document, tuple(NAMES), current=current)
    errors = Problems()
    options = parse_options(fields["options"], errors)
    if options.window is not None:
        errors["options.window"] = "a subscription's window is each run's period"
    if fields["callback_url"] is not None:
        try:
            webhooks.check_submitted(parse_callback_url(fields["callback_url"]), config=current_app.config)
        except ValueError as exc:
            errors["callback_url"] = str(exc)
    raise_if(errors, "subscription")
    return {**fields, "options": None if options.is_default else options.to_dict()}


def _or_404(subscription_id: int) -> Subscription:
    found = store.find(subscription_id)
    if found is None:
        abort(404, description="no subscription with this id")
    return found


def _shown(subscription: Subscription) -> dict:
    return store.subscription_dict(subscription, store.last_runs([subscription.id]).get(subscription.id))


@bp.post("")
def create():
    fields = _checked(_body())
    history_store.check_namespace(fields["namespace"])
    found = history_store.find_class(fields["namespace"])
    if found is None:
        abort(404, description="no class with this namespace; append its events first")
    subscription = Subscription(owner=current_client(), school_class=found, class_id=found.id,
                                **{key: fields[key] for key in ("every", "day", "time", "formats", "recipients",
                                                               "students", "skip_if_empty", "options",
                                                               "callback_url", "paused")})
    store.schedule(subscription)
    db.session.add(subscription)
    db.session.commit()
    return jsonify(_shown(subscription)), 201


@bp.get("")
def list_subscriptions():
    subscriptions = store.listed()
    last = store.last_runs([subscription.id for subscription in subscriptions])
    return jsonify({"subscriptions": [store.subscription_dict(subscription, last.get(subscription.id))
                                      for subscription in subscriptions]})


@bp.get("/<int:subscription_id>")
def describe(subscription_id: int):
    return jsonify(_shown(_or_404(subscription_id)))


@bp.patch("/<int:subscription_id>")
def change(subscription_id: int):
    subscription = _or_404(subscription_id)
    current = {key: getattr(subscription, key) for key in ("every", "day", "time", "formats", "recipients",
                                                          "students", "skip_if_empty", "options", "callback_url",
                                                          "paused")}
    fields = _checked(_body(), current)
    resume = subscription.paused and not fields["paused"]
    for key, value in fields.items():
        if key != "namespace":
            setattr(subscription, key, value)
    if resume or any(fields[key] != current[key] for key in ("every", "day", "time")):
        store.schedule(subscription)  # from now: a paused subscription does not catch up what it skipped
    db.session.commit()
    return jsonify(_shown(subscription))


@bp.delete("/<int:subscription_id>")
def delete(subscription_id: int):
    subscription = _or_404(subscription_id)
    db.session.delete(subscription)
    db.session.commit()
    return jsonify({"id": subscription_id, "deleted": True})


@bp.post("/<int:subscription_id>/run")
def run_now(subscription_id: int):
    """Make a period's run now: ``{"period": "2024-11"}``, else the last whole period. A period
    that has a run already answers 409 with that run: a period is made once."""
    subscription = _or_404(subscription_id)
    body = loads(request.get_data(cache=False)) if request.get_data(cache=True).strip() else {}
    if not isinstance(body, dict) or set(body) - {"period"}:
        _refuse("$", "send {} or {\"period\": \"2024-11\"}")
    zone_name = subscription.school_class.timezone
    if body.get("period") is not None:
        period = parse_period(body["period"], zone_name)
        if period.kind != subscription.every:
            _refuse("period", f"this subscription runs every {subscription.every}: give a "
                              f"{'month such as 2024-11' if subscription.every == 'month' else 'week such as 2024-W48'}")
        key = body["period"].strip()
    else:
        key = _last_whole_period(subscription)
    run_id = store.claim_run(subscription.id, key, due=None, trigger="manual")
    db.session.commit()
    if run_id is None:
        existing = next(run for run in store.runs_of(subscription.id, 1_000) if run.period == key)
        return jsonify({"error": f"the period {key} has a run already", "run": store.run_dict(existing, zone_name)}), 409
    try:
        enqueue_subscription_run(run_id)
    except RedisError:
        pass  # the next tick queues it again
    run = db.session.get(SubscriptionRun, run_id)
    return jsonify(store.run_dict(run, zone_name)), 202


def _refuse(path: str, reason: str) -> None:
    errors = Problems()
    errors[path] = reason
    raise_if(errors, "run")


def _last_whole_period(subscription: Subscription) -> str:
    """The last whole period by now in the class's zone: ``2024-11`` on any day of December."""
    from ..domain.figures import zone

    today = utcnow().astimezone(zone(subscription.school_class.timezone)).date()
    if subscription.every == "month":
        year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
        return f"{year:04d}-{month:02d}"
    year, week, _ = (today - dt.timedelta(days=7)).isocalendar()
    return f"{year:04d}-W{week:02d}"


@bp.get("/<int:subscription_id>/runs")
def runs(subscription_id: int):
    subscription = _or_404(subscription_id)
    zone_name = subscription.school_class.timezone
    return jsonify({"id": subscription.id, "runs": [store.run_dict(run, zone_name) for run in store.runs_of(subscription.id)]})

