"""The notification log a page at a time, catching up and then following live.

The event store's subscription already catches up in pages and then wakes on a
change stream with a polling fallback; it hands out one notification per
`next()`. The projector wants the pages themselves, so that one batch of
events becomes one transaction, and it wants to wait with a timeout, so that it
can renew its leases and notice a stop while the log is quiet.
"""

from __future__ import annotations

import queue

from eventsourcing.persistence import Notification
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.eventstore.subscription import MongoSubscription


class PageSubscription(MongoSubscription):
    """A subscription read by pages of up to `page_size` notifications."""

    def __init__(
        self,
        recorder: MongoApplicationRecorder,
        gt: int | None,
        *,
        page_size: int,
        poll_interval: float | None = None,
    ) -> None:
        super().__init__(recorder, gt=gt, page_size=page_size, poll_interval=poll_interval)

    def next_page(self, timeout: float) -> list[Notification]:
        """The next page, or [] if none came within `timeout` seconds or the
        subscription was stopped; raises the reader's error if it failed."""
        if self._stopped.is_set():
            self._raise_error()
            return []
        try:
            return self._pages.get(timeout=timeout)
        except queue.Empty:
            self._raise_error()
            return []

    def close(self) -> None:
        """Stops reading and waits for the reader threads to end."""
        self.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
