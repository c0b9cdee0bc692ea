"""The bridge's operational state in MongoDB (`bridge_status`), for the API's
health checks and the dashboard's login QR code. Not a domain fact, so not an
event: it is overwritten on every change and every heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from parley.bridge.ports import TransportStatus
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10.0


class BridgeStatusWriter:
    def __init__(
        self,
        db: Database[dict[str, Any]],
        account: str,
        transport: str,
        breaker_state: Callable[[], str] = lambda: "",
    ) -> None:
        self.collection = db["bridge_status"]
        self.account = account
        self.transport = transport
        self.breaker_state = breaker_state
        self.status: TransportStatus | None = None

    async def update(self, status: TransportStatus) -> None:
        self.status = status
        await self._write()

    async def _write(self) -> None:
        if self.status is None:
            return
        document = {
            "transport": self.transport,
            "state": self.status.state.value,
            "detail": self.status.detail,
            "qr_code": self.status.qr_code,
            "breaker": self.breaker_state(),
            "updated_at": datetime.now(UTC),
        }
        try:
            await asyncio.to_thread(
                self.collection.update_one, {"_id": self.account}, {"$set": document}, upsert=True
            )
        except PyMongoError as exc:
            log.warning("could not write the bridge status", extra={"error": str(exc)})

    async def heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._write()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)
