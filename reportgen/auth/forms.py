"""The sign-in form (CSRF-protected by Flask-WTF) and the check on where it may lead."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField
from wtforms.validators import InputRequired, Length

PASSWORD_MAX = 1024


class SignInForm(FlaskForm):
    password = PasswordField("Password", validators=[InputRequired("Enter the operator password."),
                                                     Length(max=PASSWORD_MAX)])
    next = HiddenField()


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirects).

    Refuses ``//host`` and ``/\\host`` (browsers read both as another host), schemes and control characters.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
