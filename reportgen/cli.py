"""Command-line entry points: ``flask render``, ``flask worker`` and ``flask reportgen …``."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .domain.importers import FORMATS, parse_import_options
from .domain.submission import SubmissionError
from .render.formats import NAMES


@click.command("render")
@click.argument("input_file", type=click.File("rb"))
@click.option("--format", "report_format", type=click.Choice(NAMES), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="Where to write the report.")
@click.option("--input", "input_format", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True,
              help="The file's format: reportgen JSON, xAPI statements, a Moodle log or Caliper events.")
@click.option("--timezone", default="UTC", show_default=True, help="Moodle: the IANA time zone of the log's times.")
@click.option("--month-first", is_flag=True, help="Moodle: the log writes the month first (US English).")
@click.option("--exclude-users", default="", help="Moodle: user ids or full names to leave out, comma-separated.")
@click.option("--namespace", default=None, help="The namespace of records whose course the file does not name.")
def render_command(input_file, report_format: str, output: Path, input_format: str, timezone: str,
                   month_first: bool, exclude_users: str, namespace: str | None) -> None:
    """Render INPUT_FILE (reportgen JSON, xAPI, a Moodle log or Caliper) to a report file, without
    Redis or a database."""
    from .render.documents import render_document

    started = time.perf_counter()
    try:
        import_options = parse_import_options({"timezone": timezone, "day_first": not month_first,
                                               "exclude_users": exclude_users, "namespace": namespace})
        content = render_document(report_format, input_file.read(), input_format=input_format,
                                  import_options=import_options)
    except SubmissionError as exc:
        click.echo(f"error: {exc.message}", err=True)
        for path, reason in exc.details.items():
            click.echo(f"  {path}: {reason}", err=True)
        sys.exit(2)
    output.write_bytes(content)
    click.echo(f"wrote {output} ({len(content)} bytes) in {time.perf_counter() - started:.2f} s")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option("--with-scheduler/--without-scheduler", default=True, show_default=True,
              help="Run RQ's scheduler, which re-queues retries.")
@click.option("--max-jobs", type=click.IntRange(min=1), help="Exit after this many jobs (to recycle workers).")
@click.option("--deliveries", is_flag=True,
              help="Send emails and webhooks (the delivery queue) instead of rendering reports.")
@with_appcontext
def worker_command(burst: bool, with_scheduler: bool, max_jobs: int | None, deliveries: bool) -> None:
    """Run an RQ worker for the report queues (or, with ``--deliveries``, for emails and
    webhooks); it also sweeps for lost work (every ``REPORTGEN_SWEEP_INTERVAL`` seconds)."""
    # The pipeline loads the renderer: not with the app, which the web process builds too.
    from .pipeline.queue import redis_connection, worker_queues
    from .pipeline.sweeper import sweep
    from .pipeline.worker import ReportWorker, heartbeat_interval, prepare_horses

    config = current_app.config
    worker = ReportWorker(worker_queues(deliveries), connection=redis_connection(), sweep=sweep,
                          sweep_interval=config["REPORTGEN_SWEEP_INTERVAL"],
                          job_monitoring_interval=heartbeat_interval(config["REPORTGEN_STALE_AFTER"]))
    prepare_horses(deliveries)
    # Logging is configured by create_app (reportgen.logs): RQ sees the root handler and adds none.
    worker.work(burst=burst, with_scheduler=with_scheduler, max_jobs=max_jobs, logging_level="INFO")


operator_cli = AppGroup("reportgen", help="Operator commands: `flask --app wsgi reportgen --help`.")
"""Commands for people running reportgen; each module adds its own with ``@operator_cli.command``."""


@operator_cli.command("sweep")
def sweep_command() -> None:
    """Re-queue work lost to a dead worker or an emptied Redis (the worker does this every
    REPORTGEN_SWEEP_INTERVAL seconds; run it by hand after an incident)."""
    from .pipeline.sweeper import sweep

    click.echo(sweep().summary())


@operator_cli.command("tick")
@click.option("--now", "now_text", default=None, metavar="ISO",
              help="The time to tick at, e.g. 2024-12-01T07:00:00+01:00 (default: now).")
def tick_command(now_text: str | None) -> None:
    """Claim the subscriptions due at --now and queue their runs (rq cron does this every minute)."""
    from datetime import datetime

    from .subscriptions.schedule import tick

    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter("must be an ISO 8601 time with its offset", param_hint="--now") from None
        if now.tzinfo is None:
            raise click.BadParameter("must have an offset (Z or +01:00)", param_hint="--now")
    click.echo(tick(now).summary())


@operator_cli.command("config")
def config_command() -> None:
    """Print the settings in force (from the environment, defaults filled in), secrets masked."""
    from .config import describe, load_settings

    shown = describe(load_settings())
    width = max(len(name) for name, _ in shown)
    for name, value in shown:
        click.echo(f"{name.ljust(width)}  {value}")


def init_app(app: Flask) -> None:
    app.cli.add_command(render_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(operator_cli)
