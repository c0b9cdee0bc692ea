"""An `InboundSink` that keeps what it is given, and waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from parley.bridge.ports import TransportState, TransportStatus
from parley.domain.messages import DeliveryUpdate, InboundMessage


class RecordingSink:
    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.deliveries: list[DeliveryUpdate] = []
        self.statuses: list[TransportStatus] = []

    async def on_message(self, message: InboundMessage) -> None:
        self.messages.append(message)

    async def on_delivery(self, update: DeliveryUpdate) -> None:
        self.deliveries.append(update)

    async def on_status(self, status: TransportStatus) -> None:
        self.statuses.append(status)

    @property
    def states(self) -> list[TransportState]:
        """Each state entered, in order (repeats of the same state folded)."""
        states: list[TransportState] = []
        for status in self.statuses:
            if not states or states[-1] is not status.state:
                states.append(status.state)
        return states

    @property
    def state(self) -> TransportState | None:
        return self.statuses[-1].state if self.statuses else None

    def texts(self) -> list[str]:
        return [message.text for message in self.messages]

    def mark(self) -> int:
        """A point in the status history to wait from."""
        return len(self.statuses)

    async def wait_for(
        self, what: str, predicate: Callable[[], bool], within: float = 30.0
    ) -> None:
        """Waits until `predicate()` holds; fails naming `what` and what was seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            if loop.time() > deadline:
                seen = [(s.state.value, s.detail) for s in self.statuses[-12:]]
                raise AssertionError(
                    f"timed out waiting for {what}; last statuses {seen}; messages {self.texts()}"
                )
            await asyncio.sleep(0.02)

    async def wait_for_state(
        self, state: TransportState, *, since: int = 0, within: float = 30.0
    ) -> TransportStatus:
        def entered() -> bool:
            return any(s.state is state for s in self.statuses[since:])

        await self.wait_for(f"state {state.value}", entered, within)
        return next(s for s in self.statuses[since:] if s.state is state)
