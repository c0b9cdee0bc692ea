"""Logging in, staying logged in, and losing the session: against the fake page."""

from __future__ import annotations

import io

import pytest
from parley.bridge.ports import OutboundMessage, TransportState, TransportUnavailable
from parley.bridge.whatsapp_web import qr
from testkit.fake_whatsapp import FakeWhatsApp, RecordingSink
from testkit.fake_whatsapp.harness import MakeTransport, in_order, linked

pytestmark = pytest.mark.browser


async def test_first_start_shows_the_rotating_qr_code_then_a_scan_makes_it_ready(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await transport.start(sink)

    await sink.wait_for("a first QR code", lambda: any(s.qr_code for s in sink.statuses))
    first = next(s.qr_code for s in sink.statuses if s.qr_code)
    assert first.startswith(f"{fake.qr_ref},")
    assert transport.qr_png.read_bytes() == qr.png_bytes_for(first)

    rotated = await fake.rotate_qr()
    await sink.wait_for(
        "the rotated QR code", lambda: sink.statuses[-1].qr_code.startswith(f"{rotated},")
    )
    second = sink.statuses[-1].qr_code
    assert second != first
    assert sink.statuses[-1].state is TransportState.WAITING_FOR_QR_SCAN
    assert transport.qr_png.read_bytes() == qr.png_bytes_for(second)
    printed = transport._qr_output
    assert isinstance(printed, io.StringIO)
    assert qr.terminal_text(first) in printed.getvalue()
    assert qr.terminal_text(second) in printed.getvalue()

    await fake.scan()
    await sink.wait_for_state(TransportState.READY)
    assert in_order(
        sink.states,
        TransportState.STARTING,
        TransportState.WAITING_FOR_QR_SCAN,
        TransportState.AUTHENTICATED,
        TransportState.READY,
    )
    assert transport.status.state is TransportState.READY
    assert transport.web_version in transport.status.detail
    assert not transport.qr_png.exists()  # a stale code is not left for the dashboard


async def test_a_restart_restores_the_session_from_the_profile_without_a_scan(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    first = make_transport()
    await linked(fake, first, RecordingSink())
    await first.stop()
    assert first.status.state is TransportState.STOPPED

    again = make_transport()  # same data folder, so the same browser profile
    sink = RecordingSink()
    await again.start(sink)
    await sink.wait_for_state(TransportState.READY)
    assert TransportState.WAITING_FOR_QR_SCAN not in sink.states
    assert not any(status.qr_code for status in sink.statuses)


async def test_logout_from_the_phone_is_reported_and_a_new_qr_code_is_shown(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    mark = sink.mark()

    await fake.logout()
    gone = await sink.wait_for_state(TransportState.DISCONNECTED, since=mark)
    assert "logged out" in gone.detail
    await sink.wait_for(
        "a new QR code",
        lambda: any(s.qr_code for s in sink.statuses[mark:]),
    )
    assert in_order(
        sink.states[-4:], TransportState.DISCONNECTED, TransportState.WAITING_FOR_QR_SCAN
    )

    await fake.scan()
    await sink.wait_for_state(TransportState.READY, since=mark)


async def test_a_session_opened_elsewhere_is_reported_and_refuses_sends(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    mark = sink.mark()

    await fake.conflict()
    conflict = await sink.wait_for_state(TransportState.DISCONNECTED, since=mark)
    assert "CONFLICT" in conflict.detail
    with pytest.raises(TransportUnavailable, match="disconnected"):
        await transport.send_text(OutboundMessage("out-1", "15551230001@c.us", "hello"))
    assert fake.takeovers == 0
    assert fake.sent == []


async def test_takeover_on_conflict_takes_the_session_back(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport(takeover_on_conflict=True)
    sink = RecordingSink()
    await linked(fake, transport, sink)
    mark = sink.mark()

    await fake.conflict()
    await sink.wait_for_state(TransportState.DISCONNECTED, since=mark)
    await sink.wait_for_state(TransportState.READY, since=mark)
    assert fake.takeovers == 1
