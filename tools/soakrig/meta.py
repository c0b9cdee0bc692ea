"""The harness plays Meta: it POSTs signed webhooks to the bridge, retrying as Meta
does, and it serves the Graph API the bridge sends replies to.

Meta retries a webhook that did not get a 200 (an error answer, a refused or
broken connection) with growing pauses; that is what makes a killed bridge or a
stopped database lose nothing. The fake Graph API records every send by the
outbound id Parley puts in `biz_opaque_callback_data`, so a reply sent twice is
seen as two sends of one id, and it can post the "sent" status back, as Meta
does, carrying that id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from parley.bridge.cloud_api.signature import sign
from parley.tools.soakrig.traffic import status_body

log = logging.getLogger(__name__)

# Made-up credentials shared by the harness and the bridge it starts; nothing real.
APP_SECRET = "soak-app-secret-0f3c5e1d9a7b42c8e6f1"  # noqa: S105
ACCESS_TOKEN = "EAAGsoaktokenForTheFakeGraphApi"  # noqa: S105
VERIFY_TOKEN = "soak-verify-token"  # noqa: S105
API_VERSION = "v21.0"

RETRY_FIRST = 0.25  # seconds before the first retry; doubles up to RETRY_CAP
RETRY_CAP = 4.0
MAX_REFUSALS = 5  # 4xx answers to one body before giving up on it (a bug to report)


@dataclass
class PostStats:
    posts: int = 0  # HTTP requests made
    accepted: int = 0  # bodies that got their 200
    statuses: Counter[int] = field(default_factory=Counter)  # non-200 answers by code
    connection_errors: int = 0
    given_up: list[str] = field(default_factory=list)  # labels of bodies never accepted


class WebhookPoster:
    """Delivers webhook bodies to the bridge until each gets a 200."""

    def __init__(self, session: aiohttp.ClientSession, url: str, *, timeout: float = 30.0) -> None:
        self.session = session
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.stats = PostStats()
        self.stopping = asyncio.Event()

    async def deliver(self, body: bytes, label: str) -> bool:
        """POSTs `body` (retrying) until the bridge answers 200; False if it
        refused it for good or the harness stopped first."""
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(APP_SECRET, body),
        }
        pause = RETRY_FIRST
        refusals = 0
        while not self.stopping.is_set():
            self.stats.posts += 1
            try:
                async with self.session.post(
                    self.url, data=body, headers=headers, timeout=self.timeout
                ) as response:
                    status = response.status
                    answer = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                self.stats.connection_errors += 1
            else:
                if status == 200:
                    self.stats.accepted += 1
                    return True
                self.stats.statuses[status] += 1
                if 400 <= status < 500:
                    refusals += 1
                    log.warning(
                        "webhook refused",
                        extra={"label": label, "status": status, "answer": answer[:300]},
                    )
                    if refusals >= MAX_REFUSALS:
                        self.stats.given_up.append(label)
                        return False
            await _wait(self.stopping, pause)
            pause = min(pause * 2, RETRY_CAP)
        self.stats.given_up.append(label)
        return False


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


@dataclass(frozen=True)
class Send:
    outbound_id: str
    to: str
    text: str
    at: float  # time.monotonic() when the request arrived
    wamid: str


class FakeGraph:
    """The Graph API's messages endpoint, recording every send."""

    def __init__(self, phone_number_id: str) -> None:
        self.path = f"/{API_VERSION}/{phone_number_id}/messages"
        self.sends: dict[str, list[Send]] = {}  # by outbound id, in arrival order
        self.without_id: list[Send] = []
        self.refused: list[str] = []
        self._ids = itertools.count(1)
        self._on_status: Callable[[bytes], None] | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def send_count(self) -> int:
        return sum(len(sends) for sends in self.sends.values()) + len(self.without_id)

    def post_statuses_to(self, on_status: Callable[[bytes], None]) -> None:
        """Hands a "sent" status webhook body to `on_status` for every send."""
        self._on_status = on_status

    async def start(self) -> str:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        raw = await request.read()
        if request.path != self.path:
            return _meta_error(400, "Unsupported post request", 100)
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return _meta_error(401, "Error validating access token", 190)
        body = _text_send(raw)
        if body is None:
            self.refused.append(raw[:200].decode("utf-8", "replace"))
            return _meta_error(400, "(#100) Invalid parameter", 100)
        to, text = body["to"], body["text"]["body"]
        wamid = f"wamid.graph.{next(self._ids):08d}"
        outbound_id = body.get("biz_opaque_callback_data")
        send = Send(str(outbound_id or ""), to, text, arrived, wamid)
        if outbound_id:
            self.sends.setdefault(str(outbound_id), []).append(send)
            if self._on_status is not None:
                self._on_status(status_body(str(outbound_id), wamid, to, int(time.time())))
        else:
            self.without_id.append(send)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        )


def _text_send(raw: bytes) -> dict[str, Any] | None:
    """The body of a well-formed text send, or None."""
    try:
        body = orjson.loads(raw)
        to, text = body["to"], body["text"]["body"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    well_formed = (
        body.get("messaging_product") == "whatsapp"
        and body.get("type") == "text"
        and isinstance(to, str)
        and to.isdigit()
        and isinstance(text, str)
        and bool(text)
    )
    return body if well_formed else None


def _meta_error(status: int, message: str, code: int) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "OAuthException", "code": code}}, status=status
    )
