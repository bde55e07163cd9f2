"""Liveness and readiness, checked against real processes."""
import subprocess
import sys
import time

from reportgen import create_app

from ..support.processes import ROOT, worker_env


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_names_the_missing_worker_then_turns_ready_when_one_starts(client, config, tmp_path):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"] == {"database": "ok", "redis": "ok",
                              "workers": "no live worker is listening on the report queue"}
    assert body["error"] == "not ready: workers down"
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                              env=worker_env(config, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "worker never registered"
            time.sleep(0.3)
        assert client.get("/readyz").get_json() == {
            "status": "ok", "checks": {"database": "ok", "redis": "ok", "workers": "ok"}}
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()  # never leave a worker behind to take later tests' jobs
            raise


def test_readyz_names_redis_and_database_when_they_are_down(config):
    app = create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0",
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://postgres@127.0.0.1:1/none"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"].startswith("database unreachable")
    assert checks["redis"].startswith("redis unreachable")
    assert response.get_json()["error"] == "not ready: database, redis, workers down"
