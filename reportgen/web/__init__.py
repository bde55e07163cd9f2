"""The browser UI: upload form, live status page and report history."""
from flask import Blueprint, current_app, request

bp = Blueprint("web", __name__)


@bp.before_app_request
def _allow_pasted_json_up_to_the_upload_limit() -> None:
    """Pasted JSON is a form field, which Werkzeug caps at ``MAX_FORM_MEMORY_SIZE`` (500 kB);
    let it be as large as an uploaded file. Registered before CSRFProtect, which parses first."""
    if request.blueprint == bp.name:
        request.max_form_memory_size = current_app.config["MAX_CONTENT_LENGTH"]


from . import routes  # noqa: E402,F401
