"""Time that moves only when a test says so."""

from __future__ import annotations

import asyncio


class ManualClock:
    """A monotonic clock for injection: `clock()` reads it, `advance()` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """An injectable sleep that records each wait asked for and yields at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)
