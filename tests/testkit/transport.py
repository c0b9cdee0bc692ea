"""A transport double for reply-process tests: a plain object behind the port.

The real transports (simulator, Cloud API, WhatsApp Web) have their own tests;
here the reply process is under test, so the transport only records what it was
asked to send, and fails on demand.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from parley.bridge.ports import (
    InboundSink,
    LookupResult,
    OutboundMessage,
    SendReceipt,
    SentLookup,
    TransportState,
    TransportStatus,
)


@dataclass
class RecordingTransport:
    name: str = "recording"
    account: str = "acct"
    sent: list[OutboundMessage] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)  # raised by the next sends
    lookup_answer: LookupResult | None = None  # forced answer for lookups
    lookups: int = 0
    sent_event: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def status(self) -> TransportStatus:
        return TransportStatus(TransportState.READY)

    async def start(self, sink: InboundSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_text(self, message: OutboundMessage) -> SendReceipt:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        self.sent_event.set()
        return SendReceipt(wa_message_id=f"wa-{message.outbound_id}", sent_at=datetime.now(UTC))

    async def lookup_sent(self, message: OutboundMessage) -> SentLookup:
        self.lookups += 1
        if self.lookup_answer is not None:
            return SentLookup(self.lookup_answer)
        for sent in self.sent:
            if sent.outbound_id == message.outbound_id:
                receipt = SendReceipt(f"wa-{sent.outbound_id}", datetime.now(UTC))
                return SentLookup(LookupResult.SENT, receipt)
        return SentLookup(LookupResult.NOT_SENT)
