"""RQ's cron scheduler's configuration: one tick a minute.

Run it with the stack's Redis and queue name in the environment::

    REDIS_URL=redis://… REPORTGEN_QUEUE=reportgen rq cron --url "$REDIS_URL" reportgen.subscriptions.cron_config

It queues :func:`reportgen.pipeline.jobs.tick` on the finishing queue every
``REPORTGEN_TICK_SECONDS`` (60) seconds, and once as it starts; the workers run it. Two cron
processes (or one restarted) may both queue a tick: the database decides each run once
(:mod:`reportgen.subscriptions.schedule`), so that costs one more query and nothing else.
RQ stores a cron job under its function's path (``reportgen.pipeline.jobs.tick``), not under
our stable names: a tick lives a minute, so a release that moved it strands at most one.
"""
from __future__ import annotations

from rq import cron

from reportgen.config import settings_or_exit
from reportgen.pipeline.jobs import tick

SETTINGS = settings_or_exit()

cron.register(tick, queue_name=f"{SETTINGS.REPORTGEN_QUEUE}-finish", interval=SETTINGS.REPORTGEN_TICK_SECONDS, job_timeout=120, result_ttl=3600,
              failure_ttl=24 * 3600)
