"""The JSON API under ``/assignment``: its blueprint lives with its routes."""
from .routes import bp  # noqa: F401
