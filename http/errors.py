"""The errors a request can end in, each raised when ... and answered as one JSON line.

Handlers raise these; the error middleware turns them into
`{"error": {"status": 400, "message": "..."}}` responses.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """Base of the errors that end a request with a client-side status."""

    status = 400

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    """Raised when a query string, path or body fails validation."""

    status = 400


class Unauthorized(ApiError):
    """Raised when a protected route is called without a valid bearer token."""

    status = 401

    def __init__(self, message: str = "a valid bearer token is required") -> None:
        super().__init__(message, {"WWW-Authenticate": 'Bearer realm="parley"'})


class NotFound(ApiError):
    """Raised when the thread, contact or other thing asked for does not exist."""

    status = 404


class Conflict(ApiError):
    """Raised when a command cannot apply to the thing's current state."""

    status = 409


class TooManyRequests(ApiError):
    """Raised when a client has used up its rate limit."""

    status = 429

    def __init__(self, retry_after: str) -> None:
        super().__init__(
            f"too many requests: retry after {retry_after} s", {"Retry-After": retry_after}
        )


class ServiceUnavailable(ApiError):
    """Raised when the database or another part the request needs does not answer."""

    status = 503
