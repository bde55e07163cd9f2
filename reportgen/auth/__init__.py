"""Operator sign-in, API bearer tokens and the guards that put them in front of the app."""
from flask import Flask

from . import cli, guards  # noqa: F401  (cli: the command joins ``flask reportgen``)
from .routes import bp


def init_app(app: Flask) -> None:
    """Register the sign-in pages, the guard and ``flask reportgen new-token``.

    Call before ``csrf.init_app``: the guard answers unauthenticated requests before
    CSRFProtect parses any form.
    """
    guards.init_app(app)
    app.register_blueprint(bp)

