"""A trial run against a real account: link it, then watch what arrives.

    python -m parley.bridge.whatsapp_web

Reads the same settings as Parley (PARLEY_DATA_DIR, PARLEY_ACCOUNT and the
PARLEY_WHATSAPP_WEB_* variables). It prints the login QR code, then one line per
status change, inbound message and acknowledgement. It sends nothing. Ctrl-C stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

from parley.bridge.ports import TransportStatus
from parley.bridge.whatsapp_web.config import from_env
from parley.bridge.whatsapp_web.transport import WhatsAppWebTransport
from parley.domain.messages import DeliveryUpdate, InboundMessage
from parley.tools.config import ConfigError, load_settings
from parley.tools.logs import configure_logging


class _PrintingSink:
    async def on_message(self, message: InboundMessage) -> None:
        who = message.push_name or message.sender
        print(
            f"{message.sent_at:%H:%M:%S} {message.chat_id} {who}: [{message.kind}] {message.text!r}"
        )

    async def on_delivery(self, update: DeliveryUpdate) -> None:
        print(f"{update.at:%H:%M:%S} {update.wa_message_id} {update.status}")

    async def on_status(self, status: TransportStatus) -> None:
        print(f"-- {status.state.value}: {status.detail}")


async def _run() -> None:
    settings = load_settings()
    configure_logging("whatsapp-web-trial", settings.log_level)
    transport = WhatsAppWebTransport(
        from_env(os.environ), account=settings.account, data_dir=settings.data_dir
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await transport.start(_PrintingSink())
    print(f"profile: {transport.profile}")
    try:
        await stop.wait()
    finally:
        await transport.stop()


def main() -> int:
    try:
        asyncio.run(_run())
    except ConfigError as error:
        print(f"parley: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
