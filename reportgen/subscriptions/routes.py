"""The JSON API of subscriptions: ``/subscriptions``. A subscription is its creator's: another
token's is not found (404), as a report or a class is."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from ..auth.clients import current_client
from ..domain.periods import parse_period
from ..domain.submission import Problems, loads, raise_if
from ..extensions import db
from ..history import store as history_store
from ..models import Subscription, SubscriptionRun
from . import store

bp = Blueprint("subscriptions", __name__, url_prefix="/subscriptions")


def _body() -> object:
    if not request.is_json:
        abort(415, description=f"send the subscription as Content-Type: application/json (got {request.mimetype or 'none'})")
    return loads(request.get_data(cache=False))


def _or_404(subscription_id: int) -> Subscription:
    found = store.find(subscription_id)
    if found is None:
        abort(404, description="no subscription with this id")
    return found


def _shown(subscription: Subscription) -> dict:
    return store.subscription_dict(subscription, store.last_runs([subscription.id]).get(subscription.id))


@bp.post("")
def create():
    fields = store.checked_fields(_body())
    history_store.check_namespace(fields["namespace"])
    found = history_store.find_class(fields["namespace"])
    if found is None:
        abort(404, description="no class with this namespace; append its events first")
    return jsonify(_shown(store.create(found, fields, current_client()))), 201


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
    store.change(subscription, _body())
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
        key = store.last_whole_period(subscription)
    run_id = store.run_now(subscription, key)
    if run_id is None:
        existing = next(run for run in store.runs_of(subscription.id, 1_000) if run.period == key)
        return jsonify({"error": f"the period {key} has a run already", "run": store.run_dict(existing, zone_name)}), 409
    run = db.session.get(SubscriptionRun, run_id)
    return jsonify(store.run_dict(run, zone_name)), 202


def _refuse(path: str, reason: str) -> None:
    errors = Problems()
    errors[path] = reason
    raise_if(errors, "run")


@bp.get("/<int:subscription_id>/runs")
def runs(subscription_id: int):
    subscription = _or_404(subscription_id)
    zone_name = subscription.school_class.timezone
    return jsonify({"id": subscription.id, "runs": [store.run_dict(run, zone_name) for run in store.runs_of(subscription.id)]})

