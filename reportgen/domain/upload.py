"""The envelope around the students: who gets the finished report by email, the report
options, the webhook's ``callback_url``, the report's ``label`` and (``POST /assignment``) its
``formats``; what one request asks for, validated with every
problem at once like the students themselves (:mod:`.submission`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from .limits import too_long
from .options import DEFAULT_OPTIONS, ReportOptions, parse_options
from .submission import (Problems, Student, check_distinct_units, is_envelope, parse_students, raise_if, text_problem,
                         type_name)


@dataclass(frozen=True, slots=True)
class Upload:
    """What one request asks for: the students, who gets the finished report by email, and
    the report options (``DEFAULT_OPTIONS`` unless an envelope gives ``options``)."""

    students: list[Student]
    recipients: tuple[str, ...] = ()
    options: ReportOptions = DEFAULT_OPTIONS
    callback_url: str | None = None
    keep: bool = False
    """Also store the events in the history of each of the upload's namespaces (envelope ``"keep": true``)."""
    label: str | None = None
    """The report's title, status page and attachment names (envelope ``label``; the form's label field)."""
    formats: tuple[str, ...] = ()
    """The formats one ``POST /assignment`` asks for (envelope ``formats``), in the order given."""


def parse_label(value: Any) -> str | None:
    """An envelope's ``label``, trimmed (None when absent or blank); ValueError says why not, with
    the form's bound (``MAX_CHARS["label"]``) and the same storable-text rule."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type_name(value)}")
    value = value.strip()
    problem = text_problem(value) or too_long(value, "label")
    if problem:
        raise ValueError(problem)
    return value or None


def parse_formats(value: Any, known: Sequence[str]) -> tuple[str, ...]:
    """An envelope's ``formats``: a non-empty list of distinct names from ``known``; ValueError
    with the path (``formats`` or ``formats[i]``) and why not."""
    if not isinstance(value, list):
        raise ValueError("formats", f"must be an array of format names ({', '.join(known)}), not {type_name(value)}")
    if not value:
        raise ValueError("formats", f"must name at least one format ({', '.join(known)})")
    seen: list[str] = []
    for index, name in enumerate(value):
        if not isinstance(name, str):
            raise ValueError(f"formats[{index}]", f"must be a string, not {type_name(name)}")
        if name not in known:
            raise ValueError(f"formats[{index}]", f"unknown format {name[:40]!r}; use one of {', '.join(known)}")
        if name in seen:
            raise ValueError(f"formats[{index}]", f"{name!r} is already listed (formats[{seen.index(name)}])")
        seen.append(name)
    return tuple(seen)


MAX_RECIPIENTS = 20


def _parse_recipients(value: Any, errors: dict[str, str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        errors["email"] = f"must be an array of email addresses, not {type_name(value)}"
        return ()
    if len(value) > MAX_RECIPIENTS:
        errors["email"] = f"at most {MAX_RECIPIENTS} recipients"
        return ()
    recipients: list[str] = []
    for index, address in enumerate(value):
        if not isinstance(address, str):
            errors[f"email[{index}]"] = f"must be a string, not {type_name(address)}"
            continue
        try:
            normalized = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            errors[f"email[{index}]"] = f"{address[:80]!r} is not a valid email address: {exc}"
            continue
        if normalized.casefold() not in {known.casefold() for known in recipients}:
            recipients.append(normalized)
    return tuple(recipients)


MAX_URL_CHARS = 2000


def parse_callback_url(value: Any) -> str:
    """An envelope's ``callback_url`` as written, if it is an absolute ``http(s)`` URL with a
    host and no credentials (they would be shown in the report's status); ValueError says why
    not. Where it may point is checked by :mod:`reportgen.delivery.webhooks`."""
    if not isinstance(value, str):
        raise ValueError(f"must be an http or https URL, not {type_name(value)}")
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"at most {MAX_URL_CHARS} characters")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError("must be a URL without spaces, control characters or characters beyond ASCII "
                         "(percent-encode them, and write a non-ASCII host name in its xn-- form)")
    try:
        parts = urlsplit(value)
        parts.port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must be an http or https URL, not {parts.scheme + ':' if parts.scheme else 'a relative one'}")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.port == 0:
        raise ValueError("port 0 is no server's port; give the receiver's port (1 to 65535), or none")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password; authenticate the request by its signature")
    return value


def _parse_callback_url(value: Any, errors: dict[str, str],
                        check: Callable[[str], None] | None = None) -> str | None:
    if value is None:
        return None
    try:
        url = parse_callback_url(value)
        if check is not None:
            check(url)
        return url
    except ValueError as exc:
        errors["callback_url"] = str(exc)
        return None


EMAIL_UNAVAILABLE = "this server has no SMTP server configured (SMTP_HOST)"


def _no_email(value: Any, errors: dict[str, str]) -> tuple[str, ...]:
    """No recipients, and a problem if some were asked for of a server that cannot send email."""
    if value is not None and value != []:
        errors["email"] = EMAIL_UNAVAILABLE
    return ()


def parse_recipients(value: Any) -> tuple[str, ...]:
    """Normalised, de-duplicated addresses; :class:`SubmissionError` names each bad one."""
    errors = Problems()
    recipients = _parse_recipients(value, errors)
    raise_if(errors)
    return recipients


def parse_upload(document: Any, recipients: Any = None, options: Any = None, *,
                 email_available: bool = True, check_callback_url: Callable[[str], None] | None = None,
                 known_formats: Sequence[str] | None = None) -> Upload:
    """Students, recipients and options, from a bare submission or an envelope; every problem
    at once.

    ``recipients`` and ``options`` may come from outside the JSON (the upload form); an
    envelope's ``email`` and ``options`` win. A bare submission gets ``options`` (or the
    defaults). On a server that cannot send email (``email_available`` false), recipients are
    one more problem (``email``) among the data's, not one that hides them; so is a
    ``callback_url`` that ``check_callback_url`` (where it may point: the caller's rules, which
    resolve names) refuses with a ValueError.

    ``formats`` is read only where one request may ask for several (``known_formats``, the
    server's formats: ``POST /assignment``, where it is required); anywhere else it is a
    problem, since there the formats are chosen by the URL or the form.
    """
    errors = Problems()
    callback_url = label = None
    keep = False
    report_formats: tuple[str, ...] = ()
    if is_envelope(document):
        students = parse_students(document["students"], "students", errors)
        recipients = document.get("email", recipients)
        options = document.get("options", options)
        callback_url = _parse_callback_url(document.get("callback_url"), errors, check_callback_url)
        keep = document.get("keep")
        if keep is None:
            keep = False
        elif not isinstance(keep, bool):
            errors["keep"] = f"must be true or false, not {type_name(keep)}"
        try:
            label = parse_label(document.get("label"))
        except ValueError as exc:
            errors["label"] = str(exc)
        if known_formats is not None:
            try:
                report_formats = parse_formats(document.get("formats"), known_formats)
            except ValueError as exc:
                errors[exc.args[0]] = exc.args[1]
        elif "formats" in document:
            errors["formats"] = ("several formats are asked for with POST /assignment; here the URL "
                                 "(or the form) chooses the format")
    else:
        students = parse_students(document, "", errors)
        if known_formats is not None:
            errors["formats"] = ('is required: send an envelope {"students": [...], "formats": [...]}, '
                                 "or POST to /assignment/<format>")
    options = parse_options(options, errors)
    parsed_recipients = _parse_recipients(recipients, errors) if email_available else _no_email(recipients, errors)
    raise_if(errors)
    check_distinct_units(students, options.units)
    return Upload(students=students, recipients=parsed_recipients, options=options, callback_url=callback_url,
                  keep=keep, label=label, formats=report_formats)
