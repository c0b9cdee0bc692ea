"""Serving aggregates from memory, kept true by following the log.

By default every load of a cached aggregate asks the store for newer events: one
query per load, whether or not anything changed. A busy bridge loads the same
few aggregates many times a second (a message's intake loads its contact,
conversation and thread; its reply and the status webhooks load the thread
again), and those queries were the largest share of its database work.

A `CacheKeeper` lets the application trust its cache instead:

* what this process saves goes into the cache as saved (a copy: callers keep
  and change their own objects);
* what other processes save (an operator pausing a thread from the API, editing
  a contact) reaches this process through the log: the keeper follows it from
  the head and drops any cached aggregate the log shows a newer version of;
* every write is still checked against the stored version, so a decision taken
  on an aggregate that was stale for that moment fails with a conflict, and the
  application reloads it from the store and decides again.

What may be stale is a read that writes nothing, for as long as the log takes to
reach the keeper (a quarter of a second, its settle time). If following the log
fails, the application goes back to asking the store on every load.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import Notification, Subscription

if TYPE_CHECKING:
    from parley.domain.application import ParleyApp

log = logging.getLogger(__name__)

REMEMBERED = 100_000  # aggregates whose newest version is remembered


class NewestVersions:
    """The newest version of each aggregate the log has shown (bounded, thread-safe).

    A load that raced the keeper (read from the store just before a commit the
    keeper had already seen) is caught by comparing its version with this."""

    def __init__(self, limit: int = REMEMBERED) -> None:
        self.limit = limit
        self._versions: OrderedDict[UUID, int] = OrderedDict()
        self._lock = threading.Lock()

    def saw(self, aggregate_id: UUID, version: int) -> None:
        with self._lock:
            if version > self._versions.get(aggregate_id, 0):
                self._versions[aggregate_id] = version
            self._versions.move_to_end(aggregate_id)
            while len(self._versions) > self.limit:
                self._versions.popitem(last=False)

    def newest(self, aggregate_id: UUID) -> int:
        with self._lock:
            return self._versions.get(aggregate_id, 0)


class CacheKeeper:
    """Follows the log from its head and keeps `app`'s aggregate cache true to it
    (with `follow=False` it does nothing: every load asks the store)."""

    def __init__(self, app: ParleyApp, *, follow: bool = True) -> None:
        self.app = app
        self.follow = follow
        self.versions = NewestVersions()
        self._subscription: Subscription[Any] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts following, then lets the application trust its cache. Call it
        before the application serves anything (synchronous: it reads the head)."""
        if not self.follow:
            return
        head = self.app.event_log.max_notification_id() or 0
        subscription = self.app.event_log.subscribe(gt=head)
        self._subscription = subscription
        self._thread = threading.Thread(
            target=self._follow, args=(subscription,), name="cache-keeper", daemon=True
        )
        self._thread.start()
        # Everything saved after `head` reaches the keeper; everything before it
        # is in the store, which the empty cache reads on first load.
        self.app.trust_cache(self.versions)
        log.info("aggregate cache follows the log", extra={"position": head})

    def stop(self) -> None:
        self.app.distrust_cache()
        if self._subscription is not None:
            self._subscription.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _follow(self, subscription: Iterable[Notification]) -> None:
        try:
            for notification in subscription:
                self.app.saw_version(
                    UUID(str(notification.originator_id)), notification.originator_version
                )
        except Exception:
            log.exception("aggregate cache lost the log; loads ask the store again")
            self.app.distrust_cache()
