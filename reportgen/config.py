"""Settings: every environment variable reportgen reads, parsed and checked in one place.

:class:`Settings` (pydantic-settings) declares each variable with its type, bounds and default,
so a bad value stops whichever process reads it — the web server (``wsgi.py``), a worker
(``flask worker``), ``make run`` (``serving/devstack.py``) — with the variable's name, the value
and what is expected, instead of ``invalid literal for int()`` from deep inside a request. All
bad variables are named at once. ``flask reportgen config`` prints the settings in force with
secrets masked (:func:`describe`). Secrets never live in code.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
OPERATOR_SESSION_LIFETIME = timedelta(hours=8)

#: Exit status of a process refused for its settings: gunicorn's "worker failed to boot", on which
#: its master stops instead of forking the worker again for ever.
BAD_SETTINGS_EXIT = 3

Seconds = Annotated[int, Field(ge=0)]
Intervals = Annotated[list[Annotated[int, Field(ge=0)]], NoDecode]
Names = Annotated[list[str], NoDecode]

#: Rate limits whose empty value means "off"; for every other variable empty means "the default".
_EMPTY_MEANS_OFF = frozenset({"REPORTGEN_RATE_LIMIT", "REPORTGEN_SUBMIT_RATE_LIMIT", "REPORTGEN_SIGNIN_RATE_LIMIT"})
_URLS_WITH_PASSWORDS = ("DATABASE_URL", "REDIS_URL")


class Settings(BaseSettings):
    """One field per environment variable, named as the variable (README: Configuration)."""

    model_config = SettingsConfigDict(case_sensitive=True, str_strip_whitespace=True, extra="ignore",
                                      validate_default=True)

    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    SECRET_KEY: SecretStr = SecretStr("")
    MAX_CONTENT_LENGTH: int = Field(20 * MiB, ge=1)
    REPORTGEN_QUEUE: str = Field("reportgen", min_length=1)
    REPORTGEN_JOB_TIMEOUT: int = Field(30 * 60, ge=1)
    REPORTGEN_RESULT_TTL: int = Field(24 * 3600, ge=1)
    REPORTGEN_RETRY_INTERVALS: Intervals = [5, 30, 120]
    REPORTGEN_INSTANCE_DIR: Path = ROOT_DIR / "instance"
    PORT: int = Field(8000, ge=1, le=65535)
    HOST: str = "127.0.0.1"
    WEB_CONCURRENCY: int = Field(2, ge=1)
    REPORTGEN_WORKERS: int | None = Field(None, ge=0)
    SMTP_HOST: str = ""
    SMTP_PORT: int | None = Field(None, ge=1, le=65535)
    SMTP_USERNAME: str = ""
    SMTP_PASSWORD: SecretStr = SecretStr("")
    SMTP_STARTTLS: bool = False
    SMTP_SSL: bool = False
    SMTP_TIMEOUT: int = Field(30, ge=1)
    MAIL_FROM: str = "reportgen@localhost"
    REPORTGEN_MAIL_RETRY_INTERVALS: Intervals = [30, 120, 600]
    REPORTGEN_SMTP_PER_MINUTE: Seconds = 0
    REPORTGEN_SUBSCRIPTION_GRACE_DAYS: Seconds = 7
    REPORTGEN_TICK_SECONDS: int = Field(60, ge=1)
    REPORTGEN_PUBLIC_URL: str = ""
    REPORTGEN_WEBHOOK_SECRET: SecretStr = SecretStr("")
    REPORTGEN_WEBHOOK_ALLOW: Names = []
    REPORTGEN_WEBHOOK_RETRY_INTERVALS: Intervals = [10, 60, 300, 1800]
    REPORTGEN_WEBHOOK_TIMEOUT: int = Field(10, ge=1)
    REPORTGEN_RATE_LIMIT: str = "600 per minute"
    REPORTGEN_SUBMIT_RATE_LIMIT: str = "60 per minute"
    REPORTGEN_SIGNIN_RATE_LIMIT: str = "10 per minute"
    REPORTGEN_TRUSTED_PROXIES: int = Field(0, ge=0)
    REPORTGEN_SWEEP_INTERVAL: int = Field(30, ge=1)
    REPORTGEN_STALE_AFTER: Seconds = 60
    REPORTGEN_MAX_ATTEMPTS: int = Field(3, ge=1)
    REPORTGEN_RETENTION_DAYS: Seconds = 30
    REPORTGEN_EVENT_RETENTION_DAYS: Seconds = 730
    REPORTGEN_MAX_UPLOAD_OBJECTS: int = Field(250_000, ge=1)
    REPORTGEN_LOG_FORMAT: Literal["json", "text"] = "json"
    REPORTGEN_ADMIN_PASSWORD: SecretStr = SecretStr("")
    REPORTGEN_API_TOKENS: Annotated[list[SecretStr], NoDecode] = []
    REPORTGEN_API_TOKENS_FILE: str = ""
    REPORTGEN_SECURE_COOKIES: bool = False
    REPORTGEN_METRICS_TOKEN: SecretStr = SecretStr("")
    PROMETHEUS_MULTIPROC_DIR: str = ""
    SENTRY_DSN: SecretStr = SecretStr("")
    SENTRY_ENVIRONMENT: str = ""

    @model_validator(mode="before")
    @classmethod
    def empty_means_default(cls, values: Any) -> Any:
        if isinstance(values, dict):
            return {name: value for name, value in values.items()
                    if name in _EMPTY_MEANS_OFF or not (isinstance(value, str) and not value.strip())}
        return values

    @field_validator("REPORTGEN_RETRY_INTERVALS", "REPORTGEN_MAIL_RETRY_INTERVALS", "REPORTGEN_WEBHOOK_RETRY_INTERVALS",
                     "REPORTGEN_WEBHOOK_ALLOW", "REPORTGEN_API_TOKENS", mode="before")
    @classmethod
    def comma_separated(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("REPORTGEN_LOG_FORMAT", mode="before")
    @classmethod
    def lower_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def smtp_port(self) -> int:
        """``SMTP_PORT``, else the port of the chosen transport: 465 implicit TLS, 587 STARTTLS, 25."""
        return self.SMTP_PORT or (465 if self.SMTP_SSL else 587 if self.SMTP_STARTTLS else 25)


class SettingsError(ValueError):
    """Environment variables with values reportgen cannot use; the message names each one."""


def _expected(error: dict) -> str:
    message = error["msg"]
    return message[0].lower() + message[1:]


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """The settings of this process (``environ`` instead of ``os.environ`` when given); raises
    :class:`SettingsError` naming every bad variable, its value and what it should be."""
    try:
        if environ is None:
            return Settings()
        return Settings(**{name: environ[name] for name in Settings.model_fields if name in environ})
    except ValidationError as invalid:
        lines = []
        for error in invalid.errors():
            name = str(error["loc"][0]) if error["loc"] else "settings"
            raw = (environ if environ is not None else os.environ).get(name, "")
            shown = "<hidden>" if name in SECRET_VARIABLES else repr(raw)
            lines.append(f"{name}={shown}: {_expected(error)}")
        raise SettingsError("bad settings in the environment:\n  " + "\n  ".join(lines)) from None


def settings_or_exit() -> Settings:
    """:func:`load_settings`, or the process stops with each bad variable on stderr and
    :data:`BAD_SETTINGS_EXIT`: what every entry point (web server, worker, ``make run``) calls first."""
    try:
        return load_settings()
    except SettingsError as refused:
        print(f"reportgen: {refused}", file=sys.stderr, flush=True)
        raise SystemExit(BAD_SETTINGS_EXIT) from None


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or "SecretStr" in repr(annotation)


ENVIRONMENT_VARIABLES = tuple(Settings.model_fields)
"""Every variable reportgen reads; tests hold the README, compose.yaml and the code to this list."""

SECRET_VARIABLES = frozenset(name for name, field in Settings.model_fields.items() if _is_secret(field.annotation))


def instance_dir() -> Path:
    return Path(os.environ.get("REPORTGEN_INSTANCE_DIR") or ROOT_DIR / "instance")


def database_url(url: str, instance: Path) -> str:
    """``DATABASE_URL`` (``postgres://`` accepted), else SQLite under ``instance/``."""
    if not url:
        return f"sqlite:///{instance / 'reportgen.sqlite3'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def secret_key(key: str, instance: Path) -> str:
    """``SECRET_KEY`` from the environment, else one generated once into ``instance/``.

    Persisting it keeps sessions valid across restarts and gunicorn workers of a local install.
    The processes of a first start (gunicorn's, the workers', a test run's) make it at once: each
    writes a key of its own to a temporary file and links it into place, which only the first
    does (the link fails if the name exists), so every process reads that one key, whole.
    """
    if key:
        return key
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=instance, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def describe(settings: Settings) -> list[tuple[str, str]]:
    """Each variable and the value in force, secrets shown only as set or unset and passwords
    in URLs as ``***``: what ``flask reportgen config`` prints."""
    shown = []
    for name in ENVIRONMENT_VARIABLES:
        value = getattr(settings, name)
        if name in SECRET_VARIABLES:
            present = any(item.get_secret_value() for item in value) if isinstance(value, list) else \
                bool(value.get_secret_value())
            text = "*** (set)" if present else "(unset)"
        elif name in _URLS_WITH_PASSWORDS:
            text = _mask_url(value) if value else "(unset)"
        elif name == "SMTP_PORT":
            text = str(settings.smtp_port)
        elif name == "REPORTGEN_WORKERS" and value is None:
            text = f"{os.cpu_count() or 1} (one per CPU core)"
        elif isinstance(value, list):
            text = ",".join(str(item) for item in value) or "(unset)"
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value) if value != "" else "(unset)"
        shown.append((name, text))
    return shown


def from_environment(settings: Settings | None = None) -> dict[str, Any]:
    """The Flask config of :func:`load_settings` (raises :class:`SettingsError` on bad values)."""
    s = settings or load_settings()
    instance = s.REPORTGEN_INSTANCE_DIR
    return {
        "SECRET_KEY": secret_key(s.SECRET_KEY.get_secret_value(), instance),
        "SQLALCHEMY_DATABASE_URI": database_url(s.DATABASE_URL, instance),
        "REDIS_URL": s.REDIS_URL,
        "MAX_CONTENT_LENGTH": s.MAX_CONTENT_LENGTH,
        "REPORTGEN_QUEUE": s.REPORTGEN_QUEUE,
        "REPORTGEN_JOB_TIMEOUT": s.REPORTGEN_JOB_TIMEOUT,
        "REPORTGEN_RESULT_TTL": s.REPORTGEN_RESULT_TTL,
        "REPORTGEN_RETRY_INTERVALS": s.REPORTGEN_RETRY_INTERVALS,
        "SMTP_HOST": s.SMTP_HOST,
        "SMTP_PORT": s.smtp_port,
        "SMTP_USERNAME": s.SMTP_USERNAME,
        "SMTP_PASSWORD": s.SMTP_PASSWORD.get_secret_value(),
        "SMTP_STARTTLS": s.SMTP_STARTTLS,
        "SMTP_SSL": s.SMTP_SSL,
        "SMTP_TIMEOUT": s.SMTP_TIMEOUT,
        "MAIL_FROM": s.MAIL_FROM,
        "REPORTGEN_MAIL_RETRY_INTERVALS": s.REPORTGEN_MAIL_RETRY_INTERVALS,
        "REPORTGEN_SMTP_PER_MINUTE": s.REPORTGEN_SMTP_PER_MINUTE,
        "REPORTGEN_SUBSCRIPTION_GRACE_DAYS": s.REPORTGEN_SUBSCRIPTION_GRACE_DAYS,
        "REPORTGEN_PUBLIC_URL": s.REPORTGEN_PUBLIC_URL.rstrip("/"),
        "REPORTGEN_WEBHOOK_SECRET": s.REPORTGEN_WEBHOOK_SECRET.get_secret_value(),
        "REPORTGEN_WEBHOOK_ALLOW": s.REPORTGEN_WEBHOOK_ALLOW,
        "REPORTGEN_WEBHOOK_RETRY_INTERVALS": s.REPORTGEN_WEBHOOK_RETRY_INTERVALS,
        "REPORTGEN_WEBHOOK_TIMEOUT": s.REPORTGEN_WEBHOOK_TIMEOUT,
        "RATELIMIT_ENABLED": True,
        "REPORTGEN_TRUSTED_PROXIES": s.REPORTGEN_TRUSTED_PROXIES,
        "REPORTGEN_RATE_LIMIT": s.REPORTGEN_RATE_LIMIT,
        "REPORTGEN_SUBMIT_RATE_LIMIT": s.REPORTGEN_SUBMIT_RATE_LIMIT,
        "REPORTGEN_SIGNIN_RATE_LIMIT": s.REPORTGEN_SIGNIN_RATE_LIMIT,
        "REPORTGEN_SWEEP_INTERVAL": s.REPORTGEN_SWEEP_INTERVAL,
        "REPORTGEN_STALE_AFTER": s.REPORTGEN_STALE_AFTER,
        "REPORTGEN_RETENTION_DAYS": s.REPORTGEN_RETENTION_DAYS,
        "REPORTGEN_EVENT_RETENTION_DAYS": s.REPORTGEN_EVENT_RETENTION_DAYS,
        "REPORTGEN_MAX_UPLOAD_OBJECTS": s.REPORTGEN_MAX_UPLOAD_OBJECTS,
        "REPORTGEN_MAX_ATTEMPTS": s.REPORTGEN_MAX_ATTEMPTS,
        "REPORTGEN_LOG_FORMAT": s.REPORTGEN_LOG_FORMAT,
        "REPORTGEN_ADMIN_PASSWORD": s.REPORTGEN_ADMIN_PASSWORD.get_secret_value(),
        "REPORTGEN_API_TOKENS": [token.get_secret_value() for token in s.REPORTGEN_API_TOKENS],
        "REPORTGEN_API_TOKENS_FILE": s.REPORTGEN_API_TOKENS_FILE,
        "REPORTGEN_METRICS_TOKEN": s.REPORTGEN_METRICS_TOKEN.get_secret_value(),
        "SENTRY_DSN": s.SENTRY_DSN.get_secret_value(),
        "SENTRY_ENVIRONMENT": s.SENTRY_ENVIRONMENT,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": s.REPORTGEN_SECURE_COOKIES,
        "PERMANENT_SESSION_LIFETIME": OPERATOR_SESSION_LIFETIME,
    }
