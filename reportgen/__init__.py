"""reportgen: learning-activity JSON in, HTML and PDF reports out."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from . import auth, cli, dashboard, errors, logs, ratelimit, security, sqlite_writes
from .config import ROOT_DIR, from_environment, instance_dir
from .extensions import csrf, db, migrate
from .pipeline import queue
from .serving import body_budget

#: After a checkpoint the WAL is cut back to this size: a large report's commit can grow it to
#: hundreds of MB, which SQLite would otherwise keep on disk for ever.
WAL_SIZE_LIMIT = 64 * 2**20


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL and a busy timeout let the web process read while the worker writes. In WAL mode,
    ``synchronous=NORMAL`` syncs at checkpoints instead of at every commit: a crash of the
    app loses nothing, a power cut at most the last commits, and a report job's few small
    commits stop costing a disk flush each. ``journal_size_limit`` keeps the WAL small."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def create_app(config: dict[str, Any] | None = None, *, settings: dict[str, Any] | None = None) -> Flask:
    """Build the app from ``settings`` (else the environment's, :func:`config.from_environment`),
    then ``config`` on top (tests pass theirs)."""
    app = Flask(
        __name__,
        instance_path=str(instance_dir()),
        template_folder=str(ROOT_DIR / "templates"),
        static_folder=str(ROOT_DIR / "static"),
    )
    app.config.from_mapping(settings if settings is not None else from_environment())
    if config:
        app.config.from_mapping(config)
    app.json.sort_keys = False
    proxies = app.config["REPORTGEN_TRUSTED_PROXIES"]
    if proxies:
        # The client's address, scheme and host as the proxies in front saw them: rate limits,
        # HSTS and the dashboard's same-origin check depend on them. Never trusted by default.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    on_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:")
    if on_sqlite:
        instance_dir().mkdir(parents=True, exist_ok=True)
    # A database server's connections can drop (a restart, an idle timeout), so each is checked as
    # it leaves the pool; a SQLite file's cannot, and the check was 5% of a submit's time there
    # (py-spy of a web process under bench/burst_bench.py --case submit).
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": not on_sqlite})

    from . import models  # noqa: F401  (the tables, for queries and migrations)

    logs.init_app(app)
    from .ops import errortracking

    errortracking.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT_DIR / "migrations"))
    queue.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    cli.init_app(app)

    from .api import bp as api_bp
    from .api.docs import bp as api_docs_bp
    from .history.pages import bp as class_pages_bp
    from .history.routes import bp as classes_bp
    from .ops import bp as ops_bp
    from .ops import metrics
    from .subscriptions.routes import bp as subscriptions_bp
    from .web import bp as web_bp

    body_budget.init_app(app)  # before every hook that reads a body (the form limit, CSRF)
    app.register_blueprint(api_bp)
    app.register_blueprint(classes_bp)
    app.register_blueprint(class_pages_bp)
    app.register_blueprint(subscriptions_bp)
    app.register_blueprint(ops_bp)
    metrics.init_app(app)
    app.register_blueprint(api_docs_bp)
    # Before csrf.init_app: the web blueprint's before_app_request hook (the form size limit)
    # must run before CSRFProtect's, which is the first to parse the form.
    app.register_blueprint(web_bp)
    auth.init_app(app)  # also before csrf.init_app: signed-out requests are answered before any form is read
    dashboard.init_app(app)
    csrf.init_app(app)
    csrf.exempt(api_bp)  # the JSON API is for programs; browsers use the form
    csrf.exempt(classes_bp)
    csrf.exempt(subscriptions_bp)
    ratelimit.init_app(app)
    return app


event.listen(Engine, "connect", _sqlite_pragmas)
sqlite_writes.install()
