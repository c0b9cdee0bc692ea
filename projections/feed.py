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
from parley.eventstore.datastore import Document
from parley.eventstore.recorders import MongoApplicationRecorder, notifications_in_order
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


def read_page(recorder: MongoApplicationRecorder, first: int, limit: int) -> list[Notification]:
    """Up to `limit` notifications from position `first` on, in one indexed read.

    Catching up reads every event, so this read is the projector's own: the log
    is gapless (the counter moves in the events' transaction), so one id window
    holds the page; and the documents are read whole, because on the embedded
    server a field projection costs the server more than sending the fields.
    """
    head = recorder.max_notification_id() or 0
    last = min(head, first + limit - 1)
    if last < first:
        return []
    query: Document = {"log": recorder.log_name, "notification_id": {"$gte": first, "$lte": last}}
    with recorder.datastore.translated_errors():
        documents = list(recorder.events.find(query, batch_size=limit))
    return notifications_in_order(documents)
