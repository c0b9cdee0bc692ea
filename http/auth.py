"""Bearer tokens: checking them, naming them in the log, and the local start-up token.

Tokens are compared in constant time against every configured token, so how long
a check takes says nothing about how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

TOKEN_FILE = "api-token"  # noqa: S105 - a file name, not a secret


class TokenSet:
    """The configured tokens; `identify` answers who presented a header, if anyone."""

    def __init__(self, tokens: tuple[str, ...]) -> None:
        if not tokens:
            msg = "the API needs at least one token"
            raise ValueError(msg)
        self._tokens = tuple(token.encode() for token in tokens)

    def identify(self, authorization: str | None) -> str | None:
        """The operator name of a valid `Authorization: Bearer ...` header, else None."""
        if not authorization:
            return None
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        candidate = presented.strip().encode()
        found: bytes | None = None
        for token in self._tokens:  # no early exit: every token is compared
            if hmac.compare_digest(candidate, token):
                found = token
        return None if found is None else operator_name(found)


def operator_name(token: bytes) -> str:
    """A stable, non-secret name for a token: what the log and events record as `by`."""
    return "operator:" + hashlib.sha256(token).hexdigest()[:12]


def local_token(data_dir: Path) -> tuple[str, bool]:
    """The token stored under the data folder, made on first use; (token, created)."""
    path = data_dir / TOKEN_FILE
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 16:
            return token, False
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # Created readable by its owner only, then filled.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token, True
