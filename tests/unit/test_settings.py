"""Settings: a bad environment variable stops every kind of process at start-up, naming the
variable, its value and what is expected; `flask reportgen config` shows what is in force."""
import subprocess
import sys
from pathlib import Path

import pytest

from reportgen.config import BAD_SETTINGS_EXIT, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]

#: Each kind of process as operators start it; each refuses before it touches Redis or the database.
PROCESS_KINDS = {
    "web server": [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2",
                   "--logger-class", "reportgen.serving.gunicorn_logger.JsonLogger", "wsgi:app"],
    "web server without our logger": [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "wsgi:app"],
    "worker": [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
    "make run": [sys.executable, "-m", "reportgen.serving.devstack"],
}

BAD_VALUES = [
    ("SMTP_PORT", "abc", "valid integer"),
    ("REPORTGEN_WORKERS", "-1", "greater than or equal to 0"),
    ("REPORTGEN_RETENTION_DAYS", "x", "valid integer"),
]


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "REPORTGEN_INSTANCE_DIR": str(tmp_path / "instance"), "SECRET_KEY": "x",
            "REDIS_URL": "unix:///nonexistent/redis.sock", **overrides}


@pytest.mark.parametrize("kind", PROCESS_KINDS)
@pytest.mark.parametrize(("name", "value", "expected"), BAD_VALUES)
def test_a_bad_value_stops_each_kind_of_process_naming_the_variable_value_and_expectation(
        tmp_path, kind, name, value, expected):
    result = subprocess.run(PROCESS_KINDS[kind], cwd=ROOT, env=clean_env(tmp_path, **{name: value}),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == BAD_SETTINGS_EXIT, result.stderr
    assert f"{name}={value!r}: input should be" in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(SettingsError) as refused:
        load_settings({"SMTP_PORT": "abc", "REPORTGEN_WORKERS": "-1", "REPORTGEN_LOG_FORMAT": "xml",
                       "SMTP_STARTTLS": "perhaps"})
    message = str(refused.value)
    for line in ("SMTP_PORT='abc'", "REPORTGEN_WORKERS='-1'", "REPORTGEN_LOG_FORMAT='xml': input should be 'json' or 'text'",
                 "SMTP_STARTTLS='perhaps': input should be a valid boolean"):
        assert line in message


def test_a_port_out_of_range_is_refused_with_the_range():
    with pytest.raises(SettingsError) as refused:
        load_settings({"SMTP_PORT": "70000"})
    assert "SMTP_PORT='70000': input should be less than or equal to 65535" in str(refused.value)


def test_empty_values_mean_the_default_except_for_rate_limits_where_they_mean_off():
    settings = load_settings({"SMTP_PORT": "", "REPORTGEN_WORKERS": " ", "REPORTGEN_RATE_LIMIT": "",
                              "REPORTGEN_RETRY_INTERVALS": "1, 2"})
    assert settings.smtp_port == 25 and settings.REPORTGEN_WORKERS is None
    assert settings.REPORTGEN_RATE_LIMIT == "" and settings.REPORTGEN_RETRY_INTERVALS == [1, 2]
    assert load_settings({"SMTP_SSL": "1"}).smtp_port == 465
    assert load_settings({"SMTP_STARTTLS": "true"}).smtp_port == 587


def test_flask_reportgen_config_prints_the_settings_in_force_with_secrets_masked(tmp_path):
    env = clean_env(tmp_path, SMTP_PASSWORD="hunter2-secret", REPORTGEN_API_TOKENS="tok-one,tok-two",
                    REPORTGEN_METRICS_TOKEN="metrics-secret", SENTRY_DSN="http://publickey@127.0.0.1:9/1",
                    REDIS_URL="redis://:redis-pass@redis:6379/0", SMTP_STARTTLS="yes", REPORTGEN_WORKERS="3")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "reportgen", "config"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["SMTP_PORT"] == "587" and lines["SMTP_STARTTLS"] == "true" and lines["REPORTGEN_WORKERS"] == "3"
    assert lines["SMTP_PASSWORD"] == lines["REPORTGEN_API_TOKENS"] == lines["SENTRY_DSN"] == "*** (set)"
    assert lines["REDIS_URL"] == "redis://:***@redis:6379/0"
    assert lines["SMTP_HOST"] == "(unset)" and lines["REPORTGEN_RETENTION_DAYS"] == "30"
    for secret in ("hunter2-secret", "tok-one", "metrics-secret", "publickey", "redis-pass"):
        assert secret not in result.stdout + result.stderr


def _secret_key_once(instance: str, start, keys) -> None:
    from reportgen.config import secret_key

    start.wait()
    keys.put(secret_key("", Path(instance)))


def test_processes_starting_together_share_one_generated_secret_key(tmp_path):
    """A first ``make run`` (or test run) starts several processes at once with no SECRET_KEY: each
    gets the one key written to the instance directory, none an error (one lost the race once and
    failed a whole test run)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(10):
        instance = tmp_path / f"instance-{attempt}"
        start, keys = context.Barrier(6), context.Queue()
        processes = [context.Process(target=_secret_key_once, args=(str(instance), start, keys)) for _ in range(6)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=30)
        assert [process.exitcode for process in processes] == [0] * 6
        found = {keys.get(timeout=5) for _ in processes}
        assert found == {(instance / "secret_key").read_text()} and len(found.pop()) == 64
        assert [path.name for path in instance.iterdir()] == ["secret_key"]
        assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600
