"""Helpers for tests that drive the WhatsApp Web transport against the fake."""

from __future__ import annotations

from collections.abc import Callable

from parley.bridge.ports import TransportState
from parley.bridge.whatsapp_web import Timings, WhatsAppWebTransport

from testkit.fake_whatsapp.server import FakeWhatsApp
from testkit.fake_whatsapp.sink import RecordingSink

# Quick timings: a lost page is reopened within half a second. A page is taken
# for stuck only after ten seconds, so a slow shared machine does not trip it;
# the watchdog's own test shortens that. No test asserts how long anything took.
FAST = Timings(
    backoff_initial=0.1,
    backoff_max=0.5,
    watchdog_interval=0.2,
    ping_timeout=5.0,
    stuck_after=10.0,
    call_timeout=10.0,
    navigation_timeout=10.0,
    contract_grace=1.0,
    page_poll=0.02,
    takeover_delay=0.1,
)

MakeTransport = Callable[..., WhatsAppWebTransport]


async def linked(fake: FakeWhatsApp, transport: WhatsAppWebTransport, sink: RecordingSink) -> None:
    """Starts `transport`, scans its QR code and waits until it is ready."""
    await transport.start(sink)
    await sink.wait_for("a QR code", lambda: any(s.qr_code for s in sink.statuses))
    await fake.scan()
    await sink.wait_for_state(TransportState.READY)


def in_order(states: list[TransportState], *expected: TransportState) -> bool:
    """Whether `expected` occurs in `states` in this order (others may come between)."""
    remaining = iter(states)
    return all(any(state is wanted for state in remaining) for wanted in expected)
