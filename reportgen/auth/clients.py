"""Who is asking (the request's *client*) and which reports it may see: private by default.

A report records the client that submitted it (``Report.owner``):

- ``token:<id>`` for an API token: the id is a digest of the token's SHA-256 digest (the line
  the token file holds), so it is stable across restarts and gunicorn workers, names the token in
  logs and the database without being it, and is not even the file's line;
- ``operator`` for the signed-in operator (the upload form, a retry, a command on the server);
- ``anonymous`` for anyone else, which only happens on a server without API tokens.

Who sees which report: with API tokens on, a token sees only its own reports and the signed-in
operator sees every one; without tokens there is nobody to tell apart (a single user's local
server, or one that :func:`reportgen.auth.guards.request_is_exposed` refuses), so everyone sees
everything. A report the client may not see is answered exactly like a missing one (404), so a
task id alone is not a key to somebody else's report. :func:`visible_to_client` is the one rule,
a SQL clause: :func:`reportgen.pipeline.stored.find_report` (every route's lookup) and the history
queries apply it.

Idempotency keys are scoped to :func:`idempotency_scope`: the token, or the client's address
when tokens are off (where ``anonymous`` would make every client share one set of keys).
"""
from __future__ import annotations

import hashlib

from flask import has_request_context, request
from sqlalchemy import ColumnElement, false, true

from .guards import api_tokens_configured, verified_token_digest
from .operator import is_signed_in

TOKEN_PREFIX = "token:"
OPERATOR = "operator"
ANONYMOUS = "anonymous"
ADDRESS_PREFIX = "address:"
#: Hex digits of a token's id: 64 bits, no collision among any realistic number of tokens.
TOKEN_ID_LENGTH = 16


def token_client(digest: bytes) -> str:
    """The client name of the token with this SHA-256 digest."""
    return TOKEN_PREFIX + hashlib.sha256(b"reportgen client\0" + digest).hexdigest()[:TOKEN_ID_LENGTH]


def current_client() -> str:
    """Who submits: the request's verified token, else the signed-in operator, else anonymous.

    Outside a request (a command, a job) it is the operator, who runs the server."""
    if not has_request_context():
        return OPERATOR
    digest = verified_token_digest()
    if digest is not None:
        return token_client(digest)
    return OPERATOR if is_signed_in() else ANONYMOUS


def sees_every_report() -> bool:
    """The signed-in operator does, and everyone on a server without API tokens."""
    return not has_request_context() or not api_tokens_configured() or is_signed_in()


def visible_to_client(model) -> ColumnElement[bool]:
    """A ``where`` clause on the reports table ``model`` keeping what the request's client may see."""
    if sees_every_report():
        return true()
    digest = verified_token_digest()
    return model.owner == token_client(digest) if digest is not None else false()


def idempotency_scope() -> str:
    """Whose ``Idempotency-Key`` this is: the token's client, else the client's address."""
    digest = verified_token_digest()
    if digest is not None:
        return token_client(digest)
    return ADDRESS_PREFIX + (request.remote_addr or "unknown")
