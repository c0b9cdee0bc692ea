"""A local integration that receives Parley's outbound webhooks.

It checks each delivery's signature itself (HMAC-SHA256 of `<timestamp>.<body>`,
computed here, not with Parley's helper), fails on demand, can hold requests
until released, and records what it accepted in arrival order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

SECRET = "integration-secret-0123456789"


@dataclass(frozen=True)
class Received:
    delivery_id: str
    position: int
    topic: str
    originator_id: str
    originator_version: int
    state: dict[str, Any]


@dataclass
class WebhookReceiver:
    secret: str
    fail_first: int = 0  # answer 500 to this many requests first
    refuse: Callable[[dict[str, Any]], bool] = lambda _: False  # answer 503 when True
    accepted: list[Received] = field(default_factory=list)
    attempts: int = 0
    bad_signatures: int = 0
    held: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    hold_after: int | None = None  # once this many were accepted, hold the rest at the gate
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/parley", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        timestamp = request.headers.get("X-Parley-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(
                self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        if not hmac.compare_digest(expected, request.headers.get("X-Parley-Signature-256", "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500, text="warming up")
        document = orjson.loads(body)
        if self.refuse(document):
            return web.Response(status=503)
        if self.hold_after is not None and len(self.accepted) >= self.hold_after:
            self.held += 1
            await self._notify()
            await self.gate.wait()
        self.accepted.append(
            Received(
                delivery_id=request.headers["X-Parley-Delivery"],
                position=document["position"],
                topic=document["topic"],
                originator_id=document["originator_id"],
                originator_version=document["originator_version"],
                state=document["state"],
            )
        )
        await self._notify()
        return web.Response(status=204)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 30.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    def unique(self) -> list[Received]:
        """What was accepted, first arrival of each delivery id only."""
        seen: set[str] = set()
        found: list[Received] = []
        for item in self.accepted:
            if item.delivery_id not in seen:
                seen.add(item.delivery_id)
                found.append(item)
        return found

    def positions(self) -> set[int]:
        return {item.position for item in self.accepted}

    def versions_by_originator(self) -> dict[str, list[int]]:
        """Per originator, the versions in the order they first arrived."""
        order: dict[str, list[int]] = {}
        for item in self.unique():
            order.setdefault(item.originator_id, []).append(item.originator_version)
        return order
