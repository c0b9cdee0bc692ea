"""The fake WhatsApp "server": serves the fake page and plays the network.

Tests drive it directly (it runs in the test's event loop): link the page
(`scan`), rotate the login code, deliver messages (some as ciphertext first),
acknowledge what the page sent, report a conflict, log out, drop the network,
or make the next page loads hang. It records what the page asked of it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

STATIC = Path(__file__).parent / "static"
ME = "15550000001@c.us"
VERSION = "2.3000.1019-fake"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Page:
    ws: web.WebSocketResponse
    paired: bool = False


@dataclass
class FakeWhatsApp:
    port: int = field(default_factory=free_port)
    version: str = VERSION
    missing: list[str] = field(default_factory=list)  # "Module" or "Module.attribute"
    hang_loads: int = 0  # this many next page loads never boot
    history: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # what the page sent
    actions: list[tuple[str, ...]] = field(default_factory=list)  # seen/typing/send, in order
    takeovers: int = 0
    page_loads: int = 0
    refusing: bool = False
    hold_sends: bool = False  # receive sends but do not confirm them
    _pages: list[_Page] = field(default_factory=list)
    _tokens: set[str] = field(default_factory=set)
    _refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ref: str = "ref-0"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def qr_ref(self) -> str:
        return self._ref

    # ------------------------------------------------------------ life

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_static("/static", STATIC)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        for page in list(self._pages):
            await page.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ the test's controls

    @property
    def linked_pages(self) -> int:
        return sum(1 for page in self._pages if page.paired)

    async def scan(self) -> None:
        """The phone scans the code shown on every page waiting for one."""
        for page in self._pages:
            if not page.paired:
                token = uuid.uuid4().hex
                self._tokens.add(token)
                page.paired = True
                await self._push(page, {"op": "paired", "token": token, "history": self.history})

    async def rotate_qr(self) -> str:
        self._ref = f"ref-{next(self._refs)}"
        for page in self._pages:
            if not page.paired:
                await self._push(page, {"op": "ref", "ref": self._ref})
        return self._ref

    async def deliver(
        self,
        chat: str,
        text: str = "",
        *,
        sender: str = "",
        push_name: str = "",
        type: str = "chat",
        quoted: str = "",
        ciphertext: bool = False,
        from_me: bool = False,
        t: int | None = None,
        **fields: Any,
    ) -> str:
        """A message arrives in `chat`; returns its serialized id."""
        is_group = chat.endswith("@g.us")
        author = ME if from_me else (sender or chat)
        stanza = f"FAKE{next(self._ids):06d}{uuid.uuid4().hex[:8].upper()}"
        participant = author if is_group else None
        serialized = f"{str(from_me).lower()}_{chat}_{stanza}" + (
            f"_{participant}" if participant else ""
        )
        message: dict[str, Any] = {
            "id": {
                "fromMe": from_me,
                "remote": chat,
                "id": stanza,
                "participant": participant,
                "_serialized": serialized,
            },
            "type": type,
            "t": t if t is not None else int(time.time()),
            "from": ME if from_me else chat,  # in a group, the group; the author says who
            "to": chat if from_me else ME,
            "author": author if is_group else None,
            "notifyName": push_name,
            "ack": 1 if from_me else 0,
            **fields,
        }
        if type == "chat":
            message["body"] = text
        else:
            message["caption"] = text
            message["body"] = "/9j/4AAQSkZJRgABAQ-thumbnail"  # media bodies hold a thumbnail
        if quoted:
            original = self._find(quoted)
            message["quotedStanzaID"] = original["id"]["id"]
            message["quotedParticipant"] = original["author"] or original["from"]
        readable = dict(message)
        if ciphertext:
            message = {**message, "type": "ciphertext", "body": "", "caption": ""}
            message["_readable"] = readable
        self.history.append(message)
        await self._broadcast({"op": "message", "msg": _public(message)})
        return serialized

    async def decrypt(self, wa_id: str) -> None:
        message = self._find(wa_id)
        readable = message.pop("_readable")
        message.update(readable)
        await self._broadcast(
            {"op": "type", "id": wa_id, "type": readable["type"], "body": readable.get("body", "")}
        )

    async def ack(self, wa_id: str, ack: int) -> None:
        self._find(wa_id)["ack"] = ack
        await self._broadcast({"op": "ack", "id": wa_id, "ack": ack})

    async def conflict(self) -> None:
        await self._broadcast({"op": "state", "state": "CONFLICT"})

    async def logout(self) -> None:
        """The phone unlinks this device."""
        self._tokens.clear()
        pages = [page for page in self._pages if page.paired]
        for page in pages:
            page.paired = False
            await self._push(page, {"op": "logout"})

    async def drop_network(self) -> None:
        self.refusing = True
        for page in list(self._pages):
            await page.ws.close()

    def restore_network(self) -> None:
        self.refusing = False

    def release_held_sends(self) -> None:
        self.hold_sends = False

    @staticmethod
    def file_hash(data: bytes) -> str:
        return base64.b64encode(hashlib.sha256(data).digest()).decode()

    # ------------------------------------------------------------ HTTP and WebSocket

    async def _index(self, request: web.Request) -> web.Response:
        self.page_loads += 1
        hang = self.hang_loads > 0
        if hang:
            self.hang_loads -= 1
        config = json.dumps({"hang": hang, "missing": self.missing, "version": self.version})
        html = (
            "<!doctype html><html><head><meta charset='utf-8'><title>WhatsApp (fake)</title>"
            f"<script>window.FAKE = {config};</script>"
            "<script src='/static/fake_wa.js'></script></head>"
            "<body><div id='app'>loading...</div></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            raise web.HTTPServiceUnavailable()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        page = _Page(ws)
        self._pages.append(page)
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_page(page, json.loads(frame.data))
        finally:
            self._pages.remove(page)
        return ws

    async def _on_page(self, page: _Page, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "hello":
            page.paired = message.get("token") in self._tokens
            welcome: dict[str, Any] = {"op": "welcome", "me": ME, "paired": page.paired}
            if page.paired:
                welcome["history"] = [_public(m) for m in self.history]
            else:
                welcome["ref"] = self._ref
            await self._push(page, welcome)
        elif op == "send":
            await self._on_send(page, message["msg"])
        elif op == "typing":
            self.actions.append(("typing", message["chat"], message["state"]))
        elif op == "seen":
            self.actions.append(("seen", message["chat"]))
        elif op == "takeover":
            self.takeovers += 1
            await self._push(page, {"op": "state", "state": "CONNECTED"})
        elif op == "refreshQR":
            await self.rotate_qr()

    async def _on_send(self, page: _Page, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.actions.append(("send", message["id"]["remote"], message["body"]))
        self.history.append(message)
        if self.hold_sends:
            return
        wa_id = message["id"]["_serialized"]
        await self._push(page, {"op": "stored", "id": wa_id})
        await self.ack(wa_id, 1)

    # ------------------------------------------------------------ helpers

    def _find(self, wa_id: str) -> dict[str, Any]:
        for message in self.history:
            if message["id"]["_serialized"] == wa_id:
                return message
        raise KeyError(wa_id)

    async def _broadcast(self, message: dict[str, Any]) -> None:
        for page in list(self._pages):
            if page.paired:
                await self._push(page, message)

    @staticmethod
    async def _push(page: _Page, message: dict[str, Any]) -> None:
        if not page.ws.closed:
            try:
                await page.ws.send_str(json.dumps(message))
            except (ConnectionError, RuntimeError):
                await asyncio.sleep(0)  # the page went away; it reconnects and resyncs


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}
