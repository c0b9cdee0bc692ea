"""The domain's errors: one family, each raised when a command cannot apply."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a command raises when it cannot apply."""


class ThreadArchived(DomainError):
    """Raised when a command addresses a thread that was archived."""


class UnknownMessage(DomainError):
    """Raised when a command names a message the thread never received."""


class UnknownReply(DomainError):
    """Raised when a command names a reply the thread never generated."""


class InvalidEdit(DomainError):
    """Raised when a profile or persona edit carries a value that cannot be stored."""


class NotFound(DomainError):
    """Raised when an aggregate asked for by id does not exist."""
