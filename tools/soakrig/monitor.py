"""What the harness watches while a run goes on, once a second: the memory of each
process, how far the read models trail the log, and whether the API answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from parley.tools.soakrig.logwatch import LogWatcher
from parley.tools.soakrig.processes import cpu_seconds, machine_cpu_seconds, rss_kib
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

UPSTREAM = "parley/main"


@dataclass(frozen=True)
class MemorySample:
    at: float  # time.monotonic()
    pid: int
    rss_kib: int
    cpu_s: float  # CPU time the process has used so far


@dataclass(frozen=True)
class LagSample:
    at: float
    head: int
    position: int  # the slowest read model's checkpoint
    seconds: float  # how long ago the oldest event it has not applied was written


@dataclass(frozen=True)
class MachineSample:
    at: float
    busy_s: float  # CPU seconds the machine's cores have been busy since boot
    total_s: float


@dataclass
class Observations:
    memory: dict[str, list[MemorySample]] = field(default_factory=dict)
    machine: list[MachineSample] = field(default_factory=list)
    lag: list[LagSample] = field(default_factory=list)
    api_answers: dict[int, int] = field(default_factory=dict)  # by status; 0: no answer
    log_errors: int = 0


class Monitor:
    def __init__(
        self,
        *,
        db: Database[dict[str, Any]],
        watcher: LogWatcher,
        pids: Callable[[], dict[str, int | None]],
        projections: Sequence[str],
        health_url: str | None,
        session: aiohttp.ClientSession,
        interval: float = 1.0,
    ) -> None:
        self.db = db
        self.watcher = watcher
        self.pids = pids
        self.projections = tuple(projections)
        self.health_url = health_url
        self.session = session
        self.interval = interval
        self.seen = Observations()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            self.sample_memory()
            await self.sample_log()
            await self.sample_api()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), max(0.05, self.interval - (time.monotonic() - started))
                )

    def sample_memory(self) -> None:
        now = time.monotonic()
        self.seen.machine.append(MachineSample(now, *machine_cpu_seconds()))
        for name, pid in {**self.pids(), "harness": os.getpid()}.items():
            if pid is None:
                continue
            rss, cpu = rss_kib(pid), cpu_seconds(pid)
            if rss is not None and cpu is not None:
                self.seen.memory.setdefault(name, []).append(MemorySample(now, pid, rss, cpu))

    async def sample_log(self) -> None:
        try:
            sample = await asyncio.to_thread(self._lag)
        except PyMongoError:
            self.seen.log_errors += 1  # the database may be down on purpose
            return
        if sample is not None:
            self.seen.lag.append(sample)

    def _lag(self) -> LagSample | None:
        head = self.watcher.advance()
        if not self.projections:
            return None
        positions = []
        for name in self.projections:
            checkpoint = self.db[f"{name}_tracking"].find_one({"_id": UPSTREAM})
            positions.append(int(checkpoint["notification_id"]) if checkpoint else 0)
        position = min(positions)
        seconds = 0.0
        recorded = self.watcher.picture.recorded_at
        if position < head and position + 1 < len(recorded):
            seconds = max(0.0, time.time() - recorded[position + 1])
        return LagSample(time.monotonic(), head, position, seconds)

    async def sample_api(self) -> None:
        if self.health_url is None:
            return
        status = 0
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with self.session.get(
                self.health_url, timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                status = response.status
        self.seen.api_answers[status] = self.seen.api_answers.get(status, 0) + 1
