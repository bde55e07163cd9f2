"""Settings, read from the environment when an app is created (secrets never live in code)."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT_DIR = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
OPERATOR_SESSION_LIFETIME = timedelta(hours=8)

ENVIRONMENT_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "MAX_CONTENT_LENGTH",
    "REPORTGEN_QUEUE",
    "REPORTGEN_JOB_TIMEOUT",
    "REPORTGEN_RESULT_TTL",
    "REPORTGEN_RETRY_INTERVALS",
    "REPORTGEN_INSTANCE_DIR",
    "PORT",
    "HOST",
    "WEB_CONCURRENCY",
    "REPORTGEN_WORKERS",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_STARTTLS",
    "SMTP_TIMEOUT",
    "MAIL_FROM",
    "REPORTGEN_MAIL_RETRY_INTERVALS",
    "REPORTGEN_PUBLIC_URL",
    "REPORTGEN_WEBHOOK_SECRET",
    "REPORTGEN_WEBHOOK_ALLOW",
    "REPORTGEN_WEBHOOK_RETRY_INTERVALS",
    "REPORTGEN_WEBHOOK_TIMEOUT",
    "REPORTGEN_RATE_LIMIT",
    "REPORTGEN_SUBMIT_RATE_LIMIT",
    "REPORTGEN_SIGNIN_RATE_LIMIT",
    "REPORTGEN_TRUSTED_PROXIES",
    "REPORTGEN_SWEEP_INTERVAL",
    "REPORTGEN_STALE_AFTER",
    "REPORTGEN_MAX_ATTEMPTS",
    "REPORTGEN_RETENTION_DAYS",
    "REPORTGEN_MAX_UPLOAD_OBJECTS",
    "REPORTGEN_LOG_FORMAT",
    "REPORTGEN_ADMIN_PASSWORD",
    "REPORTGEN_API_TOKENS",
    "REPORTGEN_API_TOKENS_FILE",
    "REPORTGEN_SECURE_COOKIES",
)
"""Every variable reportgen reads; tests hold the README, compose.yaml and the code to this list."""


def instance_dir() -> Path:
    return Path(os.environ.get("REPORTGEN_INSTANCE_DIR") or ROOT_DIR / "instance")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _text(name: str, default: str) -> str:
    """A setting whose empty value means "off" (unset means the default)."""
    value = os.environ.get(name)
    return default if value is None else value.strip()


def max_content_length() -> int:
    """``MAX_CONTENT_LENGTH``: the app refuses larger bodies, and the web server never buffers more."""
    return _int("MAX_CONTENT_LENGTH", 20 * MiB)


def _intervals(name: str, default: str) -> list[int]:
    return [int(part) for part in os.environ.get(name, default).split(",") if part.strip()]


def database_url(instance: Path) -> str:
    """``DATABASE_URL`` (``postgres://`` accepted), else SQLite under ``instance/``."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance / 'reportgen.sqlite3'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def secret_key(instance: Path) -> str:
    """``SECRET_KEY`` from the environment, else one generated once into ``instance/``.

    Persisting it keeps sessions valid across restarts and gunicorn workers of a local install.
    """
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def log_format() -> str:
    """``REPORTGEN_LOG_FORMAT``: ``json`` (the default) or ``text``."""
    return "text" if os.environ.get("REPORTGEN_LOG_FORMAT", "").strip().lower() == "text" else "json"


def _list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def from_environment() -> dict[str, Any]:
    instance = instance_dir()
    return {
        "SECRET_KEY": secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url(instance),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip(),
        "MAX_CONTENT_LENGTH": max_content_length(),
        "REPORTGEN_QUEUE": os.environ.get("REPORTGEN_QUEUE", "reportgen"),
        "REPORTGEN_JOB_TIMEOUT": _int("REPORTGEN_JOB_TIMEOUT", 30 * 60),
        "REPORTGEN_RESULT_TTL": _int("REPORTGEN_RESULT_TTL", 24 * 3600),
        "REPORTGEN_RETRY_INTERVALS": _intervals("REPORTGEN_RETRY_INTERVALS", "5,30,120"),
        "SMTP_HOST": os.environ.get("SMTP_HOST", "").strip(),
        "SMTP_PORT": _int("SMTP_PORT", 587 if _flag("SMTP_STARTTLS") else 25),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _flag("SMTP_STARTTLS"),
        "SMTP_TIMEOUT": _int("SMTP_TIMEOUT", 30),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "").strip() or "reportgen@localhost",
        "REPORTGEN_MAIL_RETRY_INTERVALS": _intervals("REPORTGEN_MAIL_RETRY_INTERVALS", "30,120,600"),
        "REPORTGEN_PUBLIC_URL": os.environ.get("REPORTGEN_PUBLIC_URL", "").strip().rstrip("/"),
        "REPORTGEN_WEBHOOK_SECRET": os.environ.get("REPORTGEN_WEBHOOK_SECRET", "").strip(),
        "REPORTGEN_WEBHOOK_ALLOW": _list("REPORTGEN_WEBHOOK_ALLOW"),
        "REPORTGEN_WEBHOOK_RETRY_INTERVALS": _intervals("REPORTGEN_WEBHOOK_RETRY_INTERVALS", "10,60,300,1800"),
        "REPORTGEN_WEBHOOK_TIMEOUT": _int("REPORTGEN_WEBHOOK_TIMEOUT", 10),
        "RATELIMIT_ENABLED": True,
        "REPORTGEN_TRUSTED_PROXIES": _int("REPORTGEN_TRUSTED_PROXIES", 0),
        "REPORTGEN_RATE_LIMIT": _text("REPORTGEN_RATE_LIMIT", "600 per minute"),
        "REPORTGEN_SUBMIT_RATE_LIMIT": _text("REPORTGEN_SUBMIT_RATE_LIMIT", "60 per minute"),
        "REPORTGEN_SIGNIN_RATE_LIMIT": _text("REPORTGEN_SIGNIN_RATE_LIMIT", "10 per minute"),
        "REPORTGEN_SWEEP_INTERVAL": _int("REPORTGEN_SWEEP_INTERVAL", 30),
        "REPORTGEN_STALE_AFTER": _int("REPORTGEN_STALE_AFTER", 60),
        "REPORTGEN_RETENTION_DAYS": _int("REPORTGEN_RETENTION_DAYS", 30),
        "REPORTGEN_MAX_UPLOAD_OBJECTS": _int("REPORTGEN_MAX_UPLOAD_OBJECTS", 250_000),
        "REPORTGEN_MAX_ATTEMPTS": _int("REPORTGEN_MAX_ATTEMPTS", 3),
        "REPORTGEN_LOG_FORMAT": log_format(),
        "REPORTGEN_ADMIN_PASSWORD": os.environ.get("REPORTGEN_ADMIN_PASSWORD", ""),
        "REPORTGEN_API_TOKENS": _list("REPORTGEN_API_TOKENS"),
        "REPORTGEN_API_TOKENS_FILE": os.environ.get("REPORTGEN_API_TOKENS_FILE", "").strip(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("REPORTGEN_SECURE_COOKIES"),
        "PERMANENT_SESSION_LIFETIME": OPERATOR_SESSION_LIFETIME,
    }
