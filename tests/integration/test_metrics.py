"""`/metrics` as Prometheus scrapes it: who may read it, and the figures of a live `make run` stack
(two gunicorn workers, two RQ workers forking a horse per job) after a burst, checked against
what the database says happened."""
import json
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from reportgen.extensions import db
from reportgen.models import Report

from ..support.api import post_json, submit
from ..support.database import corrupt_student
from ..support.fakes import WEBHOOK_SECRET, WEBHOOK_WORKER_ENV
from ..support.pages import PASSWORD, sign_in
from ..support.payloads import event, sample_students, student
from ..support.processes import make_run_stack, readyz, stack_workers, wait_until

METRICS_TOKEN = "metrics-token-for-tests"
SUBMIT_ROUTE = "/assignment/<report_format>"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: ``{(name, sorted label pairs): value}``."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_are_refused_to_strangers_and_served_to_operators_a_token_or_loopback(make_app):
    open_locally = make_app().test_client()
    assert open_locally.get("/metrics").status_code == 200  # neither a token nor a password: this machine may
    assert open_locally.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    with_token = make_app(REPORTGEN_METRICS_TOKEN=METRICS_TOKEN).test_client()
    assert with_token.get("/metrics").status_code == 403
    assert with_token.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    answer = with_token.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    assert "reportgen_queue_depth" in answer.get_data(as_text=True)
    operated = make_app(REPORTGEN_ADMIN_PASSWORD=PASSWORD).test_client()
    assert operated.get("/metrics").status_code == 403
    sign_in(operated)
    assert operated.get("/metrics").status_code == 200


def http(port: int, path: str, body=None, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=None if body is None else json.dumps(body).encode(),
                                     method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_a_live_stack_counts_requests_reports_jobs_and_deliveries_across_its_processes(make_app, config, tmp_path,
                                                                                       mailbox, receiver):
    box, smtp_port = mailbox
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "MAIL_FROM": "reports@school.example"}
    app = make_app(**{**smtp, "SMTP_PORT": smtp_port}, REPORTGEN_WEBHOOK_SECRET=WEBHOOK_SECRET,
                   REPORTGEN_WEBHOOK_ALLOW=["127.0.0.1"])
    client = app.test_client()
    # Queued before the stack starts, so the failing one can be made to fail first.
    failing = submit(client, "html", [student("only", [event(1)])])
    corrupt_student(app, failing, 0)
    submit(client, "csv", email=["teacher@school.example"])
    hooked = post_json(client, "/assignment/pdf", {"students": sample_students(), "callback_url": receiver.url()})
    assert hooked.status_code == 202

    stack_env = {**smtp, **WEBHOOK_WORKER_ENV, "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
                 "REDIS_URL": config["REDIS_URL"], "REPORTGEN_QUEUE": config["REPORTGEN_QUEUE"],
                 "REPORTGEN_METRICS_TOKEN": METRICS_TOKEN, "REPORTGEN_API_TOKENS": "", "REPORTGEN_WORKERS": "2",
                 "WEB_CONCURRENCY": "2"}
    with make_run_stack(tmp_path, **stack_env) as (stack, port):
        wait_until(lambda: len(stack_workers(stack)) == 2 and (readyz(port) or {}).get("status") == "ok", 120,
                   "the stack to be ready")
        healthz = [http(port, "/healthz")[0] for _ in range(40)]  # a new connection each: both gunicorn workers serve
        many = [student(f"s{number}", [event(1)]) for number in range(60)]  # two chunks and an assembly
        submitted = [http(port, f"/assignment/{report_format}", students)[0]
                     for report_format, students in (("csv", sample_students()), ("html", sample_students()), ("pdf", many))]
        assert healthz == [200] * 40 and submitted == [202] * 3

        def all_done() -> bool:
            with app.app_context():
                return db.session.scalar(select(func.count()).where(Report.finished_at.is_(None))) == 0 \
                    and len(box.messages) == 1 and len(receiver.requests) == 1

        wait_until(all_done, 180, "every report to end, the email and the webhook to be sent")
        status, body = http(port, "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert status == 200
        scrape = samples(body.decode())
        files = list((Path(tmp_path) / "instance" / "prometheus").glob("histogram_*.db"))

    assert len(files) >= 2, files  # two gunicorn processes counted requests, and the scrape added them up
    requests = lambda route, method, code: scrape.get(("reportgen_http_request_duration_seconds_count", (
        ("method", method), ("route", route), ("status", code))), 0)
    assert requests("/healthz", "GET", "200") == 40
    assert requests(SUBMIT_ROUTE, "POST", "202") == 3
    assert scrape[("reportgen_reports", (("format", "html"), ("status", "FAILURE")))] == 1
    assert scrape[("reportgen_reports", (("format", "html"), ("status", "SUCCESS")))] == 1
    assert scrape[("reportgen_reports", (("format", "csv"), ("status", "SUCCESS")))] == 2
    assert scrape[("reportgen_reports", (("format", "pdf"), ("status", "SUCCESS")))] == 2
    assert scrape[("reportgen_deliveries", (("kind", "email"), ("status", "SENT")))] == 1
    assert scrape[("reportgen_deliveries", (("kind", "webhook"), ("status", "SENT")))] == 1
    with app.app_context():
        chunks, stored_bytes = db.session.execute(
            select(func.sum(Report.chunk_count), func.sum(Report.size))).one()
        assembled = db.session.scalar(select(func.count()).where(Report.chunk_count > 1))
    assert scrape[("reportgen_stored_reports", ())] == 6
    assert scrape[("reportgen_stored_bytes", ())] == stored_bytes > 0
    # Every horse's observation landed, whichever of the two workers forked it.
    jobs = lambda kind: scrape[("reportgen_job_duration_seconds_count", (("kind", kind),))]
    assert jobs("chunk") == chunks and jobs("piece") == 0
    assert jobs("assembly") == assembled == 1
    assert jobs("email") == 1 and jobs("webhook") == 1
    assert scrape[("reportgen_job_duration_seconds_sum", (("kind", "chunk"),))] > 0
    for queue in (config["REPORTGEN_QUEUE"], config["REPORTGEN_QUEUE"] + "-finish"):
        assert scrape[("reportgen_queue_depth", (("queue", queue),))] == 0
        assert scrape[("reportgen_queue_oldest_age_seconds", (("queue", queue),))] == 0
    assert scrape[("reportgen_workers_alive", ())] == 2
