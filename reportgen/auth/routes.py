"""``/signin`` and ``/signout`` for operators."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, has_request_context, redirect, render_template, request, url_for

from .credentials import password_matches
from .forms import SignInForm, local_path
from .guards import api_tokens_configured, sign_in_off
from .operator import admin_password, is_signed_in, sign_in, sign_in_enabled, sign_out

bp = Blueprint("auth", __name__)

WRONG_PASSWORD = "That password is not right. Please try again."


def after_sign_in_url(target: str | None) -> str:
    """Where to go once signed in: the local ``next`` path, else the dashboard (or the upload page)."""
    default = (url_for("rq_dashboard.queues_overview") if "rq_dashboard" in current_app.blueprints
               else url_for("web.upload"))
    return local_path(target) or default


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    if not sign_in_enabled():
        return sign_in_off()
    form = SignInForm(next=request.args.get("next", ""))
    if request.method == "GET":
        if is_signed_in():
            return redirect(after_sign_in_url(form.next.data), code=303)
        return render_template("auth/signin.html", form=form, error=None)
    if not form.validate():
        return render_template("auth/signin.html", form=form, error=None), 400
    if not password_matches(form.password.data, admin_password()):
        current_app.logger.warning("operator sign-in refused: wrong password from %s", request.remote_addr)
        return render_template("auth/signin.html", form=form, error=WRONG_PASSWORD), 401
    sign_in()
    return redirect(after_sign_in_url(form.next.data), code=303)


@bp.post("/signout")
def signout():
    """CSRFProtect has checked the form's token by now; anything else is not a sign-out."""
    sign_out()
    flash("You are signed out.", "success")
    return redirect(url_for(".signin"), code=303)


@bp.app_context_processor
def _operator_links():
    """What the navigation needs to offer sign-in, the dashboard and sign-out (pages only)."""
    if not has_request_context():
        return {}
    signed_in = is_signed_in()
    return {
        "sign_in_enabled": sign_in_enabled(),
        "signed_in": signed_in,
        "dashboard_url": url_for("rq_dashboard.queues_overview")
        if signed_in and "rq_dashboard" in current_app.blueprints else None,
        "api_tokens_configured": api_tokens_configured(),
    }
