"""Records idle and archive transitions when they fall due.

The threads read model says which threads may be due (an indexed query); the
thread aggregate decides, and records the transition at the time it fell due.
A message arriving first records the same transitions itself, so a sweeper
that runs late, or not at all, changes when the dashboard shows them, never
what the log says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError
from parley.domain.application import ParleyApp
from parley.domain.thread import ARCHIVE_AFTER, IDLE_AFTER
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


class ThreadSweeper:
    def __init__(
        self,
        app: ParleyApp,
        db: Database[dict[str, Any]],
        clock: Callable[[], datetime],
        interval: float = 60.0,
        batch: int = 200,
    ) -> None:
        self.app = app
        self.threads = db["rm_threads"]
        self.clock = clock
        self.interval = interval
        self.batch = batch

    def due(self, now: datetime) -> list[UUID]:
        found: list[UUID] = []
        for state, after in (("active", IDLE_AFTER), ("idle", ARCHIVE_AFTER)):
            cursor = self.threads.find(
                {"state": state, "last_message_at": {"$lte": now - after}}, {"_id": 1}
            ).limit(self.batch)
            found.extend(UUID(str(document["_id"])) for document in cursor)
        return found

    def sweep_once(self) -> int:
        now = self.clock()
        swept = 0
        for thread_id in self.due(now):
            self.app.sweep_thread(thread_id, now)
            swept += 1
        return swept

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                swept = await asyncio.to_thread(self.sweep_once)
                if swept:
                    log.info("threads swept", extra={"count": swept})
            except (PyMongoError, PersistenceError) as exc:
                # The write side raises the event store's errors, not the driver's:
                # both mean the database is away for now; sweep again next time.
                log.warning("sweep failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
