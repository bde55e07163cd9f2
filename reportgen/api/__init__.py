"""The JSON API under ``/assignment``."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/assignment")

from . import routes  # noqa: E402,F401
