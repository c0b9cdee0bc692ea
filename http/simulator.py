"""The simulator page's routes: the page itself, posting a message as a contact,
and a server-sent-events stream of the conversation.

`add_simulator_routes(app, db, account=...)` adds them to any aiohttp app; the
database handle and the live feed live under this module's AppKeys, so handlers
keep no global state. Authentication is the hosting app's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from parley.bridge.simulator import (
    INBOX,
    OUTBOX,
    InvalidSimulatedMessage,
    SimulatorMailbox,
    chat_id_for,
    parse_number,
    parse_simulated,
    utc_now,
)
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

Document = dict[str, Any]

STATIC = Path(__file__).parent / "static" / "simulator"
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
MAX_BODY = 64 * 1024
HEARTBEAT_SECONDS = 15.0
# Lines are stamped by two processes; a line stamped a little before the newest
# one seen may still be committed after it, so each poll looks back this far.
LOOK_BACK = timedelta(seconds=5)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SimulatorFeed:
    """Tells every open stream when the simulator's collections change.

    A thread per collection follows its change stream; each change completes
    the current `tick`, waking all waiters at once. Streams also poll on a
    timer, so a missed change costs at most one poll interval.
    """

    def __init__(self, mailbox: SimulatorMailbox, poll_interval: float) -> None:
        self.mailbox = mailbox
        self.poll_interval = poll_interval
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick: asyncio.Future[None] | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tick = self._loop.create_future()
        for name in (INBOX, OUTBOX):
            thread = threading.Thread(
                target=self._watch, args=(name,), name=f"simulator-feed-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    async def stop(self) -> None:
        self.close_streams()
        self._stopping.set()
        await asyncio.gather(*(asyncio.to_thread(thread.join, 5) for thread in self._threads))

    def close_streams(self) -> None:
        self.closing = True
        self._bump()

    async def changed(self) -> None:
        """Returns on the next change, or after one poll interval."""
        assert self._tick is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tick), self.poll_interval)

    def _bump(self) -> None:
        if self._loop is None or self._tick is None:
            return
        tick, self._tick = self._tick, self._loop.create_future()
        if not tick.done():
            tick.set_result(None)

    def _watch(self, collection_name: str) -> None:
        collection = self.mailbox.inbox if collection_name == INBOX else self.mailbox.outbox
        pipeline = [{"$match": {"operationType": "insert"}}]
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                with collection.watch(pipeline, max_await_time_ms=500) as stream:
                    backoff = 0.5
                    if self._loop is not None:  # catch up on what came while closed
                        self._loop.call_soon_threadsafe(self._bump)
                    while not self._stopping.is_set() and stream.alive:
                        if stream.try_next() is not None and self._loop is not None:
                            self._loop.call_soon_threadsafe(self._bump)
            except PyMongoError as exc:
                log.info("simulator feed change stream closed", extra={"error": str(exc)})
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except RuntimeError:
                return  # the event loop is closed


@dataclass
class SimulatorContext:
    mailbox: SimulatorMailbox
    feed: SimulatorFeed
    prefix: str


SIMULATOR = web.AppKey("simulator", SimulatorContext)


def add_simulator_routes(
    app: web.Application,
    db: Database[Document],
    *,
    account: str,
    prefix: str = "/simulator",
    poll_interval: float = 1.0,
) -> None:
    """Adds the page (`{prefix}/`), its assets, `POST {prefix}/messages` and
    `GET {prefix}/stream?number=...` to `app`, before it starts."""
    mailbox = SimulatorMailbox(db, account)
    app[SIMULATOR] = SimulatorContext(mailbox, SimulatorFeed(mailbox, poll_interval), prefix)
    app.router.add_get(prefix, _to_page)
    app.router.add_get(f"{prefix}/", page)
    app.router.add_get(prefix + "/static/{name}", asset)
    app.router.add_post(f"{prefix}/messages", post_message)
    app.router.add_get(f"{prefix}/stream", stream)
    app.cleanup_ctx.append(_feed_context)
    app.on_shutdown.append(_close_streams)


async def _feed_context(app: web.Application) -> AsyncIterator[None]:
    context = app[SIMULATOR]
    await asyncio.to_thread(context.mailbox.create_indexes)
    context.feed.start()
    yield
    await context.feed.stop()


async def _close_streams(app: web.Application) -> None:
    # Open streams would otherwise hold the server's shutdown until its timeout.
    app[SIMULATOR].feed.close_streams()


async def _to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(request.app[SIMULATOR].prefix + "/")


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ASSETS:  # a fixed list: no path ever reaches the file system
        raise web.HTTPNotFound()
    return web.FileResponse(
        STATIC / name, headers={**SECURITY_HEADERS, "Content-Type": ASSETS[name]}
    )


async def post_message(request: web.Request) -> web.StreamResponse:
    context = request.app[SIMULATOR]
    if request.content_type != "application/json":
        return _error(415, "send the message as application/json")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, f"a message body may be at most {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return _error(413, f"a message body may be at most {MAX_BODY} bytes")
    try:
        message = parse_simulated(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return _error(400, "body is not JSON")
    except InvalidSimulatedMessage as exc:
        return _error(400, str(exc))
    at = utc_now()
    try:
        wa_message_id = await asyncio.to_thread(context.mailbox.post, message, at)
    except PyMongoError:
        log.exception("cannot store a simulator message", extra={"chat_id": message.chat_id})
        return _error(503, "the database is unavailable; try again")
    log.info(
        "simulator message posted",
        extra={"chat_id": message.chat_id, "wa_message_id": wa_message_id},
    )
    return web.json_response(
        {"id": wa_message_id, "chat_id": message.chat_id, "at": at.isoformat()}, status=201
    )


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the chat's recent lines, then each new one, as
    `event: line` with the line as JSON. The page drops ids it has shown."""
    context = request.app[SIMULATOR]
    try:
        chat_id = chat_id_for(parse_number(request.query.get("number")))
    except InvalidSimulatedMessage as exc:
        return _error(400, str(exc))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    sent: set[str] = set()
    newest: datetime | None = None
    quiet_since = time.monotonic()
    try:
        await response.write(b"retry: 2000\n\n")
        while not context.feed.closing:
            since = None if newest is None else newest - LOOK_BACK
            try:
                lines = await asyncio.to_thread(context.mailbox.conversation, chat_id, since)
            except PyMongoError as exc:
                log.warning("simulator stream cannot read", extra={"error": str(exc)})
                lines = []
            for line in lines:
                newest = line.at if newest is None else max(newest, line.at)
                if line.id in sent:
                    continue
                sent.add(line.id)
                await response.write(
                    b"event: line\ndata: " + orjson.dumps(line.as_json()) + b"\n\n"
                )
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                await response.write(b": keep-alive\n\n")
                quiet_since = time.monotonic()
            await context.feed.changed()
    except ConnectionResetError:
        pass  # the page went away
    return response


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class SimulatorExtension:
    """The simulator mounted beside the dashboard (see `parley.http.extensions`).

    Its page, assets and live stream are public (a browser navigation or an
    EventSource cannot send a bearer header, and they only show simulated chats);
    posting a message as a contact needs the dashboard's token. Mount it only when
    the bridge runs the simulator transport.
    """

    name = "simulator"
    href = "/simulator/"

    def __init__(self, mongodb_uri: str, database: str, *, account: str) -> None:
        self.mongodb_uri = mongodb_uri
        self.database = database
        self.account = account
        prefix = self.href.rstrip("/")
        self.public_routes = frozenset(
            {
                ("GET", prefix),
                ("GET", f"{prefix}/"),
                ("GET", f"{prefix}/static/{{name}}"),
                ("GET", f"{prefix}/stream"),
            }
        )

    def mount(self, app: web.Application) -> None:
        client: MongoClient[Document] = MongoClient(
            self.mongodb_uri, tz_aware=True, uuidRepresentation="standard"
        )
        add_simulator_routes(app, client[self.database], account=self.account)

        async def close_client(app: web.Application) -> AsyncIterator[None]:
            yield
            client.close()

        app.cleanup_ctx.append(close_client)
