"""Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256
of the raw request body keyed with the app secret."""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

PREFIX = "sha256="


class SignatureCheck(StrEnum):
    VALID = "valid"
    MISSING = "missing"  # no header, or not in the `sha256=<hex>` form
    MISMATCH = "mismatch"


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta would send for `body`."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def check_signature(app_secret: str, body: bytes, header: str | None) -> SignatureCheck:
    if not header or not header.startswith(PREFIX) or len(header) != len(PREFIX) + 64:
        return SignatureCheck.MISSING
    expected = sign(app_secret, body)
    # Constant time, so a forger learns nothing from how long a rejection takes.
    if hmac.compare_digest(expected.encode(), header.lower().encode("ascii", "replace")):
        return SignatureCheck.VALID
    return SignatureCheck.MISMATCH
