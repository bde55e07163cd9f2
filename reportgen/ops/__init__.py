"""Operator endpoints: liveness and readiness; the blueprint lives with its routes."""
from .routes import bp  # noqa: F401
