"""rq-dashboard at ``/rq``, reading the app's own Redis.

Only signed-in operators reach it (``auth.guards``). Its pages post with their own JavaScript,
which sends no form token, so the blueprint is exempt from CSRFProtect; the guard asks those
posts for this site's Origin instead, and the session cookie is ``SameSite=Lax``.
"""
from __future__ import annotations

from flask import Flask, render_template
from rq.exceptions import InvalidJobOperation, NoSuchJobError

from .auth.guards import DASHBOARD_PREFIX, dashboard_wants_json
from .errors import error_response
from .extensions import csrf

NO_SUCH_JOB = "There is no such job in Redis: finished jobs expire after REPORTGEN_RESULT_TTL seconds."


def _no_such_job(_exc: NoSuchJobError):
    """rq-dashboard 0.9.0 lets this escape as a 500 when a job has expired or never existed."""
    if dashboard_wants_json():
        return error_response(404, NO_SUCH_JOB)
    return render_template("error.html", code=404, heading="No such job", message=NO_SUCH_JOB, hint=None), 404


def _invalid_job_operation(_exc: InvalidJobOperation):
    """rq-dashboard 0.9.0 lets RQ's refusal (requeueing a job that has not failed) escape as a 500."""
    return error_response(409, "RQ refused: only a failed job can be requeued")


def init_app(app: Flask) -> None:
    """Mount the dashboard; without ``REDIS_URL`` (``flask db upgrade`` alone) there is nothing to show."""
    if not app.config["REDIS_URL"]:
        return
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    for name in dir(rq_dashboard.default_settings):
        if name.isupper():
            app.config.setdefault(name, getattr(rq_dashboard.default_settings, name))
    # Set before setup_rq_connection, which otherwise warns that our REDIS_URL is a legacy setting.
    app.config["RQ_DASHBOARD_REDIS_URL"] = app.config["REDIS_URL"]
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=DASHBOARD_PREFIX)
    csrf.exempt(rq_dashboard.blueprint)
    app.register_error_handler(NoSuchJobError, _no_such_job)
    app.register_error_handler(InvalidJobOperation, _invalid_job_operation)
