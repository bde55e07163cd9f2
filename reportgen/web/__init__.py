"""The browser UI: upload form, live status page and report history; the blueprint lives with its routes."""
from .routes import bp  # noqa: F401
