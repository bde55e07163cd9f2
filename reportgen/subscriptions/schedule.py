"""The tick: claim the subscriptions that are due and queue their runs.

RQ's own cron scheduler (``rq cron reportgen.subscriptions.cron_config``) queues one tick job a
minute; ``flask reportgen tick --now …`` runs one with a given "now" (tests, operators). A tick
reads only the subscriptions whose ``next_due`` has come (an index on ``paused, next_due``: with
10,000 subscriptions and none due it is one index probe, BENCHMARKS.md), and for each period due:

* claims its run (:func:`.store.claim_run`: the unique key decides, so two ticks at once, two
  schedulers, or a ``POST …/run`` of that period make it once);
* queues it when it is due less than ``REPORTGEN_SUBSCRIPTION_GRACE_DAYS`` ago (catch-up after
  downtime: once), or records it as ``missed`` when older;
* moves ``next_due`` on with a conditional UPDATE (from the value it read), so a tick that
  overlaps another moves it once.

Runs are queued after the commit; one that Redis refused stays ``queued`` and a later tick
queues it again (:data:`REQUEUE_AFTER`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select, update

from ..domain.periods import from_microseconds, to_microseconds
from ..domain.schedules import due_after
from ..extensions import db
from ..models import Subscription, SubscriptionRun, utcnow
from ..pipeline.queue import enqueue_subscription_run
from . import store

log = logging.getLogger(__name__)

#: Subscriptions one tick handles at most; the next tick goes on.
BATCH = 500
#: Periods one subscription may be behind before the older ones are skipped without a record.
MAX_CATCH_UP = 60
#: A run still ``queued`` this long after it was claimed is queued again (Redis lost it).
REQUEUE_AFTER = timedelta(minutes=10)


@dataclass
class Ticked:
    due: int = 0
    queued: list[int] = field(default_factory=list)
    missed: int = 0

    def summary(self) -> str:
        return f"{self.due} subscription(s) due, {len(self.queued)} run(s) queued, {self.missed} missed"


def tick(now: datetime | None = None) -> Ticked:
    """One tick at ``now`` (the current time unless given)."""
    now = now or utcnow()
    now_us = to_microseconds(now)
    grace_us = current_app.config["REPORTGEN_SUBSCRIPTION_GRACE_DAYS"] * 86_400_000_000
    ticked = Ticked()
    due = db.session.scalars(select(Subscription).where(Subscription.paused.is_(False),
                                                        Subscription.next_due <= now_us)
                             .order_by(Subscription.next_due).limit(BATCH)).all()
    ticked.due = len(due)
    for subscription in due:
        zone_name = subscription.school_class.timezone
        next_due, period = subscription.next_due, subscription.next_period
        for _ in range(MAX_CATCH_UP):
            if next_due > now_us:
                break
            late = now_us - next_due > grace_us
            run_id = store.claim_run(subscription.id, period, due=next_due, trigger="schedule",
                                     status=store.MISSED if late else store.QUEUED,
                                     reason=(f"the scheduler was not running within "
                                             f"{grace_us // 86_400_000_000} days of its time") if late else None)
            if run_id is not None:
                if late:
                    ticked.missed += 1
                else:
                    ticked.queued.append(run_id)
            following = due_after(subscription.every, subscription.day, subscription.time, zone_name,
                                  from_microseconds(next_due))
            next_due, period = following.at_us, following.period
        if next_due <= now_us:  # further behind than MAX_CATCH_UP periods: start again from now
            following = due_after(subscription.every, subscription.day, subscription.time, zone_name, now)
            next_due, period = following.at_us, following.period
        db.session.execute(update(Subscription).where(Subscription.id == subscription.id,
                                                      Subscription.next_due == subscription.next_due)
                           .values(next_due=next_due, next_period=period))
    lost = db.session.scalars(select(SubscriptionRun.id).where(
        SubscriptionRun.status == store.QUEUED, SubscriptionRun.created_at < utcnow() - REQUEUE_AFTER)
        .limit(BATCH)).all()
    db.session.commit()
    for run_id in [*ticked.queued, *lost]:
        try:
            enqueue_subscription_run(run_id)
        except RedisError as exc:
            log.warning("a subscription run could not be queued (%s); the next tick will", type(exc).__name__)
    return ticked
