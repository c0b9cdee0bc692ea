"""The Cloud API transport wired to a fake Graph API and its own webhook, for tests."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
from parley.bridge.cloud_api import CloudApiConfig, CloudApiTransport
from parley.bridge.cloud_api.signature import sign
from pymongo.database import Database

from testkit.fake_graph_api import FakeGraphApi
from testkit.recording_sink import RecordingSink

APP_SECRET = "0f3c5e1d9a7b42c8e6f1a3b5c7d9e1f2"
ACCESS_TOKEN = "EAAGm0PX4ZCpsBAtesttoken"
VERIFY_TOKEN = "parley-verify-token"
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class PauseRecorder:
    """Stands in for asyncio.sleep between retries, so tests see the pauses
    chosen without waiting them out."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


@dataclass
class CloudRig:
    transport: CloudApiTransport
    sink: RecordingSink
    graph: FakeGraphApi
    clock: FakeClock
    pauses: PauseRecorder
    webhook_url: str
    http: aiohttp.ClientSession
    db: Database[dict[str, Any]]

    async def post(
        self, document: Any, *, secret: str = APP_SECRET, signature: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POSTs like Meta (signed with `secret`, or with `signature` as given);
        returns the status and the JSON answer."""
        body = document if isinstance(document, bytes) else orjson.dumps(document)
        headers = {"Content-Type": "application/json"}
        header = sign(secret, body) if signature is None else signature
        if header:
            headers["X-Hub-Signature-256"] = header
        async with self.http.post(self.webhook_url, data=body, headers=headers) as response:
            return response.status, await response.json()

    def another_transport(self) -> CloudApiTransport:
        """A second instance over the same database: the bridge after a restart."""
        return CloudApiTransport(
            self.transport.config,
            self.db,
            account=self.transport.account,
            clock=self.clock,
            sleep=self.pauses,
        )


def with_config(transport: CloudApiTransport, **changes: Any) -> CloudApiConfig:
    return replace(transport.config, **changes)
