"""Applying a page of the log to a projection, and committing it as one batch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Mapper, Notification, Tracking
from parley.projections.base import ReadModelProjection
from parley.projections.view import Fence


def upstream_name(application_name: str, log_name: str) -> str:
    """The checkpoint key of one log of one application, e.g. `parley/main`."""
    return f"{application_name}/{log_name}"


@dataclass(frozen=True)
class BatchResult:
    projection: str
    first: int  # first log position applied
    position: int  # the checkpoint after this batch
    events: int
    written: int  # documents written
    seconds: float


class BatchApplier:
    """Decodes pages of notifications once, and applies them to any projection."""

    def __init__(self, upstream: str, mapper: Mapper[Any]) -> None:
        self.upstream = upstream
        self.mapper = mapper

    def decode(self, page: Sequence[Notification]) -> list[Any]:
        return [self.mapper.to_domain_event(notification) for notification in page]

    def apply(
        self,
        projection: ReadModelProjection,
        page: Sequence[Notification],
        events: Sequence[Any],
        fence: Fence | None = None,
    ) -> BatchResult | None:
        """Applies the events of `page` beyond the projection's checkpoint and
        commits them with the checkpoint at the page's end; None if the page
        holds nothing new for it. Any error leaves the view as last committed."""
        if not page:
            return None
        view = projection.view
        start = view.position(self.upstream)
        last = page[-1].id
        if last <= start:
            return None
        started = time.perf_counter()
        applied = 0
        first = 0
        process = projection.process_event  # the dispatcher, bound once per batch
        try:
            for notification, event in zip(page, events, strict=True):
                if notification.id > start:
                    first = first or notification.id
                    process(event, Tracking(self.upstream, notification.id))
                    applied += 1
        except BaseException:
            view.discard()
            raise
        written = view.commit(self.upstream, last, fence)
        return BatchResult(
            projection.name, first, last, applied, written, time.perf_counter() - started
        )
