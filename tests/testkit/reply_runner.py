"""The reply process as its own process, for the crash test: the real write side
and event store, a model that echoes (so every reply text is unique), and a
transport that talks HTTP to testkit.receiver.

    PYTHONPATH=tests python -m testkit.reply_runner URI DATABASE RECEIVER_URL
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC, datetime

import aiohttp
from parley.bridge.context import AggregateContextSource
from parley.bridge.ports import (
    GeneratedReply,
    InboundSink,
    LookupResult,
    OutboundMessage,
    ReplyContext,
    SendReceipt,
    SentLookup,
    TransportState,
    TransportStatus,
    TransportUnavailable,
)
from parley.bridge.reply_process import ReplyProcess, ReplySettings
from parley.domain.application import ParleyApp
from parley.eventstore.factory import factory_settings


class EchoModel:
    name = "echo"

    async def generate(self, context: ReplyContext) -> GeneratedReply:
        started = time.perf_counter()
        return GeneratedReply(
            text=f"re: {context.inbound_text}",
            model="echo",
            latency_ms=(time.perf_counter() - started) * 1000,
        )


class HttpTransport:
    name = "http-test"
    account = "acct"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session: aiohttp.ClientSession | None = None

    @property
    def status(self) -> TransportStatus:
        return TransportStatus(TransportState.READY)

    async def start(self, sink: InboundSink) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def send_text(self, message: OutboundMessage) -> SendReceipt:
        assert self.session is not None
        body = {
            "outbound_id": message.outbound_id,
            "chat_id": message.chat_id,
            "text": message.text,
        }
        try:
            async with self.session.post(f"{self.base_url}/send", json=body) as response:
                answer = await response.json()
        except aiohttp.ClientConnectionError as exc:
            raise TransportUnavailable(str(exc)) from exc
        return SendReceipt(answer["wa_message_id"], datetime.now(UTC))

    async def lookup_sent(self, message: OutboundMessage) -> SentLookup:
        assert self.session is not None
        url = f"{self.base_url}/lookup"
        async with self.session.get(url, params={"outbound_id": message.outbound_id}) as response:
            answer = await response.json()
        if answer["sent"]:
            receipt = SendReceipt(answer["wa_message_id"], datetime.now(UTC))
            return SentLookup(LookupResult.SENT, receipt)
        return SentLookup(LookupResult.NOT_SENT)


async def run(uri: str, database: str, receiver: str) -> None:
    app = ParleyApp(env=factory_settings(uri, database, MONGODB_POLL_INTERVAL=0.2))
    transport = HttpTransport(receiver)
    process = ReplyProcess(
        app=app,
        model=EchoModel(),
        transport=transport,
        context_source=AggregateContextSource(app),
        settings=ReplySettings(concurrency=8, backoff_initial=0.05, checkpoint_interval=0.2),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await transport.start(process)  # type: ignore[arg-type]
    try:
        await process.run(stop)
    finally:
        await transport.stop()
        app.close()


if __name__ == "__main__":
    asyncio.run(run(*sys.argv[1:4]))
