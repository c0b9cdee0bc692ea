"""The projections' errors: one family, each documented by when it is raised."""

from __future__ import annotations

from eventsourcing.persistence import Tracking


class ProjectionError(Exception):
    """Base of the errors the read side raises."""


class MissingDocument(ProjectionError):
    """Raised when an event refers to a read-model document that no earlier event
    created: the log and the projection disagree, which is a bug to look into."""

    def __init__(self, projection: str, collection: str, doc_id: str, tracking: Tracking) -> None:
        super().__init__(
            f"{projection}: event at position {tracking.notification_id} refers to "
            f"{collection} {doc_id}, which no earlier event created"
        )
        self.position = tracking.notification_id


class UnknownProjection(ProjectionError):
    """Raised when a projection is named that does not exist."""


class InvalidChat(ProjectionError):
    """Raised when a chat id or phone number given by a person cannot be one."""


class InvalidTime(ProjectionError):
    """Raised when an as-of time given by a person cannot be read."""
