"""An InboundSink that keeps what it is given, and lets a test wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from parley.bridge.ports import TransportStatus
from parley.domain.messages import DeliveryUpdate, InboundMessage


class RecordingSink:
    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.deliveries: list[DeliveryUpdate] = []
        self.statuses: list[TransportStatus] = []
        self._changed = asyncio.Condition()

    async def on_message(self, message: InboundMessage) -> None:
        self.messages.append(message)
        await self._notify()

    async def on_delivery(self, update: DeliveryUpdate) -> None:
        self.deliveries.append(update)
        await self._notify()

    async def on_status(self, status: TransportStatus) -> None:
        self.statuses.append(status)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 20.0) -> None:
        """Waits until `predicate()` holds; fails the test after `within` seconds."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)
