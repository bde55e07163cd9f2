"""Subscriptions and their runs in the database: created, changed, listed as the API shows
them, and each run claimed once.

A run is claimed by inserting its row (``INSERT … ON CONFLICT DO NOTHING`` on PostgreSQL,
``INSERT OR IGNORE`` on SQLite): the unique key ``(subscription_id, period)`` lets one insert
count, so a tick, a second scheduler's tick, a restarted one and ``POST …/run`` cannot make a
period twice; whoever's insert did not count does nothing more.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from redis.exceptions import RedisError
from sqlalchemy import func, insert, select, update

from ..auth.clients import visible_to_client
from ..domain.dates import iso
from ..domain.periods import from_microseconds
from ..delivery import webhooks
from ..domain.options import parse_options
from ..domain.schedules import due_after, parse_subscription
from ..domain.submission import Problems, raise_if
from ..domain.upload import parse_callback_url
from ..extensions import db
from ..models import Report, SchoolClass, Subscription, SubscriptionEmail, SubscriptionReport, SubscriptionRun, utcnow
from ..pipeline.queue import enqueue_subscription_run
from ..render.formats import NAMES

QUEUED, RUNNING, MAILING = "queued", "running", "mailing"
DONE, PARTLY_FAILED, FAILED, SKIPPED, MISSED = "done", "partly failed", "failed", "skipped", "missed"
FINAL = (DONE, PARTLY_FAILED, FAILED, SKIPPED, MISSED)


def insert_ignoring_duplicates(model):
    """An INSERT of ``model`` that a unique key turns into nothing, on either database."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).on_conflict_do_nothing()
    return insert(model).prefix_with("OR IGNORE")


def schedule(subscription: Subscription, after: datetime | None = None) -> None:
    """Set the next run: the first after ``after`` (now), in the class's zone."""
    due = due_after(subscription.every, subscription.day, subscription.time, subscription.school_class.timezone,
                    after or utcnow())
    subscription.next_due, subscription.next_period = due.at_us, due.period


def reschedule_class(school_class: SchoolClass) -> None:
    """The class's zone changed: its subscriptions' next runs are at their times in the new one."""
    for subscription in db.session.scalars(select(Subscription).where(Subscription.class_id == school_class.id)):
        schedule(subscription)


def checked_fields(document: object, current: dict | None = None) -> dict:
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


SETTINGS = ("every", "day", "time", "formats", "recipients", "students", "skip_if_empty", "options", "callback_url",
            "paused")


def create(found: SchoolClass, fields: dict, owner: str) -> Subscription:
    """Store a subscription of ``found`` (``fields`` from :func:`checked_fields`), its next run set."""
    subscription = Subscription(owner=owner, school_class=found, class_id=found.id,
                                **{key: fields[key] for key in SETTINGS})
    schedule(subscription)
    db.session.add(subscription)
    db.session.commit()
    return subscription


def change(subscription: Subscription, document: object) -> None:
    """Apply a ``PATCH``; a new schedule, or resuming, sets the next run from now (a paused
    subscription does not catch up what it skipped)."""
    current = {key: getattr(subscription, key) for key in SETTINGS}
    fields = checked_fields(document, current)
    for key in SETTINGS:
        setattr(subscription, key, fields[key])
    if (current["paused"] and not fields["paused"]) or any(fields[key] != current[key] for key in ("every", "day", "time")):
        schedule(subscription)
    db.session.commit()


def run_now(subscription: Subscription, period: str) -> int | None:
    """Claim and queue the run of ``period`` now; None if the period has a run already."""
    run_id = claim_run(subscription.id, period, due=None, trigger="manual")
    db.session.commit()
    if run_id is not None:
        try:
            enqueue_subscription_run(run_id)
        except RedisError:
            pass  # still queued: the next tick queues it again
    return run_id


def last_whole_period(subscription: Subscription) -> str:
    """The last whole period by now in the class's zone: ``2024-11`` on any day of December."""
    from ..domain.figures import zone

    today = utcnow().astimezone(zone(subscription.school_class.timezone)).date()
    if subscription.every == "month":
        year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
        return f"{year:04d}-{month:02d}"
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return f"{year:04d}-W{week:02d}"


def find(subscription_id: int) -> Subscription | None:
    return db.session.scalar(select(Subscription).where(Subscription.id == subscription_id,
                                                        visible_to_client(Subscription)))


def listed(class_id: int | None = None) -> list[Subscription]:
    query = select(Subscription).where(visible_to_client(Subscription)).order_by(Subscription.id)
    if class_id is not None:
        query = query.where(Subscription.class_id == class_id)
    return list(db.session.scalars(query))


def claim_run(subscription_id: int, period: str, *, due: int | None, trigger: str, status: str = QUEUED,
              reason: str | None = None) -> int | None:
    """Insert the run of ``period``; its id if this call's insert counted, else None (it exists)."""
    result = db.session.execute(insert_ignoring_duplicates(SubscriptionRun).values(
        subscription_id=subscription_id, period=period, due=due, trigger=trigger, status=status, reason=reason,
        created_at=utcnow(), finished_at=utcnow() if status in FINAL else None))
    if not result.rowcount:
        return None
    return db.session.scalar(select(SubscriptionRun.id).where(SubscriptionRun.subscription_id == subscription_id,
                                                              SubscriptionRun.period == period))


def move_run(run_id: int, before: str | tuple[str, ...], after: str, **values: Any) -> bool:
    """One conditional UPDATE of a run's status; whether this call made it."""
    before = (before,) if isinstance(before, str) else before
    if after in FINAL:
        values.setdefault("finished_at", utcnow())
    result = db.session.execute(update(SubscriptionRun).where(SubscriptionRun.id == run_id,
                                                              SubscriptionRun.status.in_(before))
                                .values(status=after, **values))
    db.session.commit()
    return bool(result.rowcount)


def runs_of(subscription_id: int, limit: int = 100) -> list[SubscriptionRun]:
    return list(db.session.scalars(select(SubscriptionRun).where(SubscriptionRun.subscription_id == subscription_id)
                                   .order_by(SubscriptionRun.created_at.desc(), SubscriptionRun.id.desc())
                                   .limit(limit)))


def last_runs(subscription_ids: list[int]) -> dict[int, SubscriptionRun]:
    if not subscription_ids:
        return {}
    newest = (select(func.max(SubscriptionRun.id)).where(SubscriptionRun.subscription_id.in_(subscription_ids))
              .group_by(SubscriptionRun.subscription_id))
    return {run.subscription_id: run
            for run in db.session.scalars(select(SubscriptionRun).where(SubscriptionRun.id.in_(newest)))}


def _time(value_us: int | None, zone_name: str) -> str | None:
    if value_us is None:
        return None
    from ..domain.figures import zone

    return from_microseconds(value_us).astimezone(zone(zone_name)).isoformat()


def subscription_dict(subscription: Subscription, last_run: SubscriptionRun | None = None) -> dict:
    zone_name = subscription.school_class.timezone
    return {
        "id": subscription.id, "namespace": subscription.school_class.namespace, "timezone": zone_name,
        "every": subscription.every, "day": subscription.day, "time": subscription.time,
        "formats": subscription.formats, "recipients": subscription.recipients, "students": subscription.students,
        "skip_if_empty": subscription.skip_if_empty, "options": subscription.options,
        "callback_url": subscription.callback_url, "paused": subscription.paused,
        "next_run": None if subscription.paused else _time(subscription.next_due, zone_name),
        "next_period": None if subscription.paused else subscription.next_period,
        "created_at": iso(subscription.created_at),
        "last_run": None if last_run is None else run_dict(last_run, zone_name),
        "runs_url": url_for("subscriptions.runs", subscription_id=subscription.id),
    }


def run_dict(run: SubscriptionRun, zone_name: str) -> dict:
    """A run as ``GET /subscriptions/<id>/runs`` shows it: its reports, and its emails sent and
    failed with the reasons (the success rate of what was tried)."""
    reports = db.session.execute(select(Report.id, Report.format, Report.status).join(
        SubscriptionReport, SubscriptionReport.report_id == Report.id).where(SubscriptionReport.run_id == run.id)
        .order_by(Report.format)).all()
    emails = db.session.execute(select(SubscriptionEmail.recipient, SubscriptionEmail.student_id,
                                       SubscriptionEmail.status, SubscriptionEmail.error)
                                .where(SubscriptionEmail.run_id == run.id).order_by(SubscriptionEmail.id)).all()
    sent = sum(1 for email in emails if email.status == "SENT")
    failed = [{"recipient": email.recipient, "student_id": email.student_id, "error": email.error}
              for email in emails if email.status == "FAILED"]
    tried = sent + len(failed)
    return {
        "id": run.id, "period": run.period, "trigger": run.trigger, "status": run.status, "reason": run.reason,
        "due_at": _time(run.due, zone_name), "created_at": iso(run.created_at), "finished_at": iso(run.finished_at),
        "reports": [{"task_id": task_id, "format": report_format, "status": status,
                     "status_url": url_for("api.report_status", report_format=report_format, task_id=task_id)}
                    for task_id, report_format, status in reports],
        "emails": {"total": len(emails), "sent": sent, "failed": len(failed),
                   "waiting": len(emails) - tried,
                   "success_rate": None if not tried else round(sent / tried, 3)},
        "failures": failed,
        "without_address": run.without_address or [],
    }
