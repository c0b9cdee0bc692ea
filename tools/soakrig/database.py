"""The embedded database of a soak run: started in the run's folder, stopped and
started again on the same port (so every process's URI stays valid)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from parley.eventstore.embedded import EmbeddedServer


class SoakDatabase:
    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedServer(data_dir)
        self.uri = ""
        self.port = 0
        self.pid: int | None = None  # of the server now running, for memory samples
        self.outages: list[tuple[float, float]] = []  # (stopped, answering again), monotonic

    def start(self) -> str:
        self.uri = self.server.ensure_running()
        self._note_record()
        return self.uri

    def _note_record(self) -> None:
        record = self.server.status().record
        assert record is not None
        self.port, self.pid = record.port, record.pid

    async def outage(self, seconds: float) -> None:
        """Stops the server, keeps it down for `seconds`, starts it on the same port."""
        stopped = time.monotonic()
        self.pid = None
        await asyncio.to_thread(self.server.stop, 30.0)
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - stopped)))
        uri = await asyncio.to_thread(self.server.ensure_running, 120.0, self.port)
        assert uri == self.uri, f"restarted at {uri}, not {self.uri}"
        await asyncio.to_thread(self._note_record)
        self.outages.append((stopped, time.monotonic()))

    def stop(self) -> None:
        self.server.stop(timeout=30.0)
