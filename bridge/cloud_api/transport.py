"""The WhatsApp Cloud API (the official Business platform) behind the `Transport` port.

Inbound arrives by webhook (see `webhook.py`), which hands each parsed batch to
`CloudApiTransport.receive`; replies go out through the Graph API.

`lookup_sent` and which way it errs: the Cloud API cannot be asked whether a
message went out, so this adapter keeps its own record (`state.py`). A `pending`
record is written before the request, and `accepted` with WhatsApp's id before
`send_text` returns. So:

* SENT: WhatsApp accepted it (the request answered, or a later status webhook
  echoed our outbound id in `biz_opaque_callback_data`).
* NOT_SENT: no request was ever made, or WhatsApp answered no / was unreachable.
* UNKNOWN: a request was made but its answer was lost (a crash between the
  request and the record, or a timeout). It errs towards not sending twice:
  NOT_SENT is said only when known, so a caller that resends only on NOT_SENT
  never duplicates a reply; the price is that such a reply waits for a status
  webhook (which turns UNKNOWN into SENT within seconds when it did go out) or a
  person. A caller that retries `send_text` after TransportUnavailable from a
  timeout accepts a possible duplicate instead: WhatsApp has no idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from parley.bridge.cloud_api.config import CloudApiConfig
from parley.bridge.cloud_api.graph import (
    OUTSIDE_WINDOW_CODE,
    GraphClient,
    GraphRefused,
    GraphUnavailable,
    Sleep,
    TextRequest,
)
from parley.bridge.cloud_api.memory import AcceptedSends, WindowMemory
from parley.bridge.cloud_api.payloads import WebhookBatch
from parley.bridge.cloud_api.state import CloudApiState, SendState
from parley.bridge.ports import (
    InboundSink,
    LookupResult,
    OutboundMessage,
    SendReceipt,
    SendRejected,
    SentLookup,
    TransportState,
    TransportStatus,
    TransportUnavailable,
)
from parley.domain.messages import DeliveryUpdate
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

Document = dict[str, Any]
Clock = Callable[[], datetime]

SERVICE_WINDOW = timedelta(hours=24)
MAX_TEXT = 4096  # WhatsApp's limit for a text body
_CHAT = re.compile(r"^(\d{5,20})(@c\.us|@s\.whatsapp\.net)?$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _as_stored(at: datetime) -> datetime:
    """`at` to the millisecond, as MongoDB keeps it, so a receipt read back equals
    the one returned."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class CloudApiTransport:
    """One business phone number on the WhatsApp Cloud API."""

    name = "cloud"

    def __init__(
        self,
        config: CloudApiConfig,
        db: Database[Document],
        *,
        account: str,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        sink_timeout: float = 10.0,
        stop_grace: float = 30.0,
        status_waits_for_send: float = 2.0,
    ) -> None:
        self.config = config
        self.account = account
        self.clock = clock
        self.sink_timeout = sink_timeout
        self.stop_grace = stop_grace  # seconds `stop` waits for sends under way
        # seconds a status webhook waits for the send it confirms (see `_confirmed`)
        self.status_waits_for_send = status_waits_for_send
        self._sleep = sleep
        self._state = CloudApiState(db, account)
        self._sink: InboundSink | None = None
        self._session: aiohttp.ClientSession | None = None
        self._graph: GraphClient | None = None
        self._status = TransportStatus(TransportState.STOPPED)
        self._windows = WindowMemory()
        self._accepted = AcceptedSends()
        self._in_flight: dict[str, asyncio.Future[SendReceipt]] = {}  # by outbound id

    @property
    def status(self) -> TransportStatus:
        return self._status

    async def start(self, sink: InboundSink) -> None:
        self._session = aiohttp.ClientSession()
        self._graph = GraphClient(self.config, self._session, sleep=self._sleep)
        self._sink = sink
        await self._set_status(TransportStatus(TransportState.READY, "webhook and Graph API"))
        log.info(
            "cloud api transport started",
            extra={"account": self.account, "phone_number_id": self.config.phone_number_id},
        )

    async def stop(self) -> None:
        if self._in_flight:
            # Each send is bounded by the Graph client's own timeouts and retries.
            await asyncio.wait(set(self._in_flight.values()), timeout=self.stop_grace)
        if self._session is not None:
            await self._session.close()
        self._session = None
        self._graph = None
        await self._set_status(TransportStatus(TransportState.STOPPED))
        self._sink = None

    async def _set_status(self, status: TransportStatus) -> None:
        self._status = status
        if self._sink is not None:
            await self._sink.on_status(status)

    # ------------------------------------------------------------- inbound

    async def receive(self, batch: WebhookBatch) -> int:
        """Records what a webhook brought and hands it to the sink; returns how
        many items were handed over. Raises TransportUnavailable before `start`."""
        sink = self._sink
        if sink is None:
            raise TransportUnavailable("the Cloud API transport is not started")
        latest: dict[str, datetime] = {}
        for message in batch.messages:
            if message.chat_id not in latest or message.sent_at > latest[message.chat_id]:
                latest[message.chat_id] = message.sent_at
        async with asyncio.timeout(self.sink_timeout):
            # The window is recorded first: a reply may be sent as soon as the
            # sink has the message.
            for chat_id, at in latest.items():
                if self._windows.needs_write(chat_id, at):
                    await asyncio.to_thread(self._state.record_inbound, chat_id, at)
                    self._windows.stored(chat_id, at)
            delivered = 0
            for message in batch.messages:
                await sink.on_message(message)
                delivered += 1
            for notice in batch.statuses:
                if notice.outbound_id:
                    await self._confirmed(notice.outbound_id, notice.update)
                await sink.on_delivery(notice.update)
                delivered += 1
        return delivered

    # ------------------------------------------------------------- outbound

    async def send_text(self, message: OutboundMessage) -> SendReceipt:
        graph = self._graph
        if graph is None:
            raise TransportUnavailable("the Cloud API transport is not started")
        match = _CHAT.match(message.chat_id)
        if match is None:
            raise SendRejected(
                f"the Cloud API sends to one person's number, not to {message.chat_id!r}"
            )
        if not message.text.strip():
            raise SendRejected("an empty message cannot be sent")
        if len(message.text) > MAX_TEXT:
            raise SendRejected(f"WhatsApp takes at most {MAX_TEXT} characters in one message")
        chat_id = message.chat_id if match.group(2) else f"{match.group(1)}@c.us"
        # From the ledger's "pending" on, a send runs to its outcome even when the
        # caller is cancelled (a stop, a timeout): cut short, it would leave the
        # send pending with nothing sent, which the next start must treat as in
        # doubt and never resend. `stop` waits for these.
        send = asyncio.ensure_future(self._send(graph, message, match.group(1), chat_id))
        outbound_id = message.outbound_id
        self._in_flight[outbound_id] = send

        def done(finished: asyncio.Future[SendReceipt]) -> None:
            if self._in_flight.get(outbound_id) is finished:
                del self._in_flight[outbound_id]

        send.add_done_callback(done)
        return await asyncio.shield(send)

    async def _send(
        self, graph: GraphClient, message: OutboundMessage, number: str, chat_id: str
    ) -> SendReceipt:
        now = self.clock()
        # Read before the ledger says "pending": a crash between "pending" and the
        # request leaves the send in doubt for good, so nothing waits in between.
        last_inbound = await self._last_inbound(chat_id, now)
        earlier = await asyncio.to_thread(self._state.begin_send, message.outbound_id, chat_id, now)
        if earlier is not None and earlier.state is SendState.ACCEPTED:
            return SendReceipt(earlier.wa_message_id, earlier.sent_at or now)
        if last_inbound is None or now - last_inbound >= SERVICE_WINDOW:
            since = "never" if last_inbound is None else last_inbound.isoformat(timespec="seconds")
            reason = (
                "outside the 24-hour customer-service window (the contact last wrote: "
                f"{since}); WhatsApp allows only approved templates now"
            )
            await self._record_refused(message.outbound_id, reason)
            raise SendRejected(reason)
        request = TextRequest(
            to=number,
            text=message.text,
            quoted_message_id=message.quoted_message_id,
            outbound_id=message.outbound_id,
        )
        try:
            wa_message_id = await graph.send_text(request)
        except GraphRefused as exc:
            await self._record_refused(message.outbound_id, str(exc))
            if exc.code == OUTSIDE_WINDOW_CODE:
                raise SendRejected(f"outside the 24-hour customer-service window: {exc}") from exc
            if exc.status == 401:
                await self._set_status(
                    TransportStatus(TransportState.DISCONNECTED, "the access token was rejected")
                )
            raise SendRejected(str(exc)) from exc
        except GraphUnavailable as exc:
            if not exc.maybe_sent:
                await self._record_refused(message.outbound_id, str(exc))
            raise TransportUnavailable(str(exc)) from exc
        sent_at = _as_stored(self.clock())
        try:
            await asyncio.to_thread(
                self._state.record_accepted, message.outbound_id, wa_message_id, sent_at
            )
            self._accepted.add(message.outbound_id)
        except PyMongoError:
            # It went out: raising now would invite a second send. The caller
            # records the receipt in the event log; only lookup_sent loses it.
            log.exception(
                "could not record an accepted send",
                extra={"outbound_id": message.outbound_id, "wa_message_id": wa_message_id},
            )
        log.info(
            "cloud api message sent",
            extra={
                "chat_id": chat_id,
                "outbound_id": message.outbound_id,
                "wa_message_id": wa_message_id,
            },
        )
        return SendReceipt(wa_message_id=wa_message_id, sent_at=sent_at)

    async def _confirmed(self, outbound_id: str, update: DeliveryUpdate) -> None:
        """A status echoing our outbound id: the message reached WhatsApp, whatever
        became of the request that sent it, and the ledger must say so.

        The status often outruns the Graph API's answer to that very request, whose
        send then records "accepted" itself a moment later: wait for it rather than
        write twice. Should this process die meanwhile, the webhook goes unanswered
        and Meta delivers it again."""
        sending = self._in_flight.get(outbound_id)
        if sending is not None:
            await asyncio.wait({sending}, timeout=self.status_waits_for_send)
        if outbound_id not in self._accepted:
            await asyncio.to_thread(
                self._state.record_status, outbound_id, update.wa_message_id, update.at
            )

    async def _last_inbound(self, chat_id: str, now: datetime) -> datetime | None:
        """When the contact last wrote: what this process saw, or, when that says
        the window is closed (or it saw nothing), what the database holds."""
        seen = self._windows.last_inbound(chat_id)
        if seen is not None and now - seen < SERVICE_WINDOW:
            return seen
        stored = await asyncio.to_thread(self._state.last_inbound, chat_id)
        if stored is None:
            return seen
        return stored if seen is None else max(seen, stored)

    async def _record_refused(self, outbound_id: str, reason: str) -> None:
        await asyncio.to_thread(self._state.record_refused, outbound_id, reason)

    async def lookup_sent(self, message: OutboundMessage) -> SentLookup:
        record = await asyncio.to_thread(self._state.find_send, message.outbound_id)
        if record is None or record.state is SendState.REFUSED:
            return SentLookup(LookupResult.NOT_SENT)
        if record.state is SendState.ACCEPTED:
            sent_at = record.sent_at or self.clock()
            return SentLookup(LookupResult.SENT, SendReceipt(record.wa_message_id, sent_at))
        return SentLookup(LookupResult.UNKNOWN)

    # ------------------------------------------------------------- for the webhook

    def last_inbound_at(self, chat_id: str) -> datetime | None:
        """When the contact last wrote, as recorded (synchronous; for tests and tools)."""
        return self._state.last_inbound(chat_id)
