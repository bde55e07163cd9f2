"""The stable names under which jobs are queued, and the job class that runs them.

RQ stores a job's function (and its failure callback) as a string in Redis and imports it by
that string when a worker takes the job. Were that string the function's dotted path, every
move of a module would strand the jobs queued by the previous release (and their retries,
scheduled minutes ahead). So jobs are queued under the names of :data:`JOBS`, which never
change; :class:`ReportJob` resolves a stored name through this table, and through
:data:`FORMER_PATHS`, the dotted paths that releases before the ``pipeline`` package stored.
Strings only: this module imports nothing of ours, so the queue can name jobs without loading them.
"""
from __future__ import annotations

from rq.job import Job
from rq.utils import import_attribute

#: Stable name → where the function lives now. Add names; never rename one.
JOBS = {
    "reportgen:render_chunk": "reportgen.pipeline.jobs.render_chunk",
    "reportgen:render_piece": "reportgen.pipeline.jobs.render_piece",
    "reportgen:chunk_failed": "reportgen.pipeline.jobs.chunk_failed",
    "reportgen:assemble_report": "reportgen.pipeline.jobs.assemble_report",
    "reportgen:assembly_failed": "reportgen.pipeline.jobs.assembly_failed",
    "reportgen:send_delivery": "reportgen.pipeline.jobs.send_delivery",
    "reportgen:delivery_failed": "reportgen.pipeline.jobs.delivery_failed",
    "reportgen:tick": "reportgen.pipeline.jobs.tick",
    "reportgen:run_subscription": "reportgen.pipeline.jobs.run_subscription",
    "reportgen:send_subscription_emails": "reportgen.pipeline.jobs.send_subscription_emails",
    "reportgen:subscription_emails_failed": "reportgen.pipeline.jobs.subscription_emails_failed",
}

#: The jobs that existed before the stable names, and what they were stored as:
#: ``reportgen.jobs.<name>``. Jobs added since never had another name.
FORMER_PATHS = {f"reportgen.jobs.{name.partition(':')[2]}": name for name in (
    "reportgen:render_chunk", "reportgen:render_piece", "reportgen:chunk_failed", "reportgen:assemble_report",
    "reportgen:assembly_failed", "reportgen:send_delivery", "reportgen:delivery_failed")}


def resolve(name: str) -> str:
    """The dotted path to import for a stored job or callback name (any other name as it is)."""
    return JOBS.get(FORMER_PATHS.get(name, name), name)


class ReportJob(Job):
    """An RQ job whose function and failure callback are found through :func:`resolve`. Our jobs
    use no success or stopped callbacks."""

    @property
    def func(self):
        if self.instance is None and self.func_name is not None:
            return import_attribute(resolve(self.func_name))
        return super().func

    @property
    def failure_callback(self):
        name = self._failure_callback_name
        return import_attribute(resolve(name)) if name else None
