"""A stand-in for the reply process: answers every inbound message with an echo
through the transport it listens to."""

from __future__ import annotations

import asyncio

from parley.bridge.ports import OutboundMessage, Transport, TransportStatus
from parley.domain.messages import DeliveryUpdate, InboundMessage


class EchoSink:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.messages: list[InboundMessage] = []
        self.fail_next = 0  # refuse this many messages first, like a busy intake
        self.received = asyncio.Event()

    async def on_message(self, message: InboundMessage) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise RuntimeError("intake busy")
        self.messages.append(message)
        self.received.set()
        await self.transport.send_text(
            OutboundMessage(
                outbound_id=f"echo-{message.wa_message_id}",
                chat_id=message.chat_id,
                text=f"Echo: {message.text}",
                quoted_message_id=message.wa_message_id,
            )
        )

    async def on_delivery(self, update: DeliveryUpdate) -> None:
        return None

    async def on_status(self, status: TransportStatus) -> None:
        return None

    async def wait_for_count(self, count: int, within: float = 20.0) -> None:
        async with asyncio.timeout(within):
            while len(self.messages) < count:
                self.received.clear()
                await self.received.wait()
