"""The operator password and API tokens, compared in constant time (no Flask here).

Secrets are compared as SHA-256 digests: equal lengths, so timing says nothing about a
secret's length, and the token file holds digests, so the server never stores a token.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

TOKEN_BYTES = 32
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


class TokenFileError(ValueError):
    """A line of the token file is not a SHA-256 hex digest."""


def sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def password_matches(candidate: str, password: str) -> bool:
    """True when ``candidate`` is the configured ``password`` (never when none is configured)."""
    return hmac.compare_digest(sha256(candidate), sha256(password)) and bool(password)


def read_token_file(path: str | Path) -> list[bytes]:
    """Digests from a file of SHA-256 hex digests, one a line; ``#`` starts a comment."""
    digests = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        value = line.split("#", 1)[0].strip()
        if not value:
            continue
        if not _HEX_DIGEST.fullmatch(value):
            raise TokenFileError(f"{path}, line {number}: expected a SHA-256 hex digest (64 hex digits); "
                                 "`flask --app wsgi reportgen new-token` prints one")
        digests.append(bytes.fromhex(value))
    return digests


def token_digests(tokens: Iterable[str], token_file: str | Path | None = None) -> tuple[bytes, ...]:
    """The digests of every configured token: plaintext ones hashed, plus those of the file."""
    digests = [sha256(token) for token in tokens if token]
    if token_file:
        digests.extend(read_token_file(token_file))
    return tuple(digests)


def token_matches(candidate: str, digests: Iterable[bytes]) -> bool:
    """Compares against every digest, without stopping at a match."""
    digest = sha256(candidate)
    matched = False
    for known in digests:
        matched |= hmac.compare_digest(digest, known)
    return matched


def new_token() -> tuple[str, str]:
    """A fresh random token and the hex digest to put in the token file."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, sha256(token).hex()
