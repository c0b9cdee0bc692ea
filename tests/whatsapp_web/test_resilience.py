"""Crashes, navigations, network loss, stuck pages and page updates, against the fake."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from parley.bridge.ports import TransportState
from parley.bridge.whatsapp_web.contract import hook_script
from playwright.async_api import Error as PlaywrightError
from testkit.fake_whatsapp import VERSION, FakeWhatsApp, RecordingSink, free_port
from testkit.fake_whatsapp.harness import FAST, MakeTransport, in_order, linked

pytestmark = pytest.mark.browser

ALICE = "15551230001@c.us"
BOB = "15551230002@c.us"


def ids(sink: RecordingSink) -> list[str]:
    return [message.wa_message_id for message in sink.messages]


async def test_a_crashed_page_is_reopened_and_what_arrived_meanwhile_is_caught_up_once(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    before = await fake.deliver(ALICE, "before the crash")
    await sink.wait_for("the first message", lambda: len(sink.messages) == 1)
    crashed_page = transport.page
    assert crashed_page is not None
    mark = sink.mark()

    fake.refusing = True  # keep the reopened page offline until the messages are in
    with pytest.raises(PlaywrightError):
        await crashed_page.goto("chrome://crash")  # the renderer process dies
    lost = await sink.wait_for_state(TransportState.DISCONNECTED, since=mark)
    assert "crashed" in lost.detail
    during = [
        await fake.deliver(ALICE, "while it was down"),
        await fake.deliver(BOB, "me too", push_name="Bob"),
    ]
    fake.restore_network()

    await sink.wait_for_state(TransportState.READY, since=mark)
    await sink.wait_for("the missed messages", lambda: len(sink.messages) == 3)
    after = await fake.deliver(BOB, "after it")
    await sink.wait_for("the next message", lambda: len(sink.messages) == 4)
    assert ids(sink) == [before, *during, after]
    assert transport.page is not crashed_page
    assert in_order(
        sink.states[sink.states.index(TransportState.READY) :],
        TransportState.READY,
        TransportState.DISCONNECTED,
        TransportState.STARTING,
        TransportState.READY,
    )


async def test_a_navigation_gets_the_hook_again_and_messages_keep_flowing_once(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    first = await fake.deliver(ALICE, "one")
    await sink.wait_for("the first message", lambda: len(sink.messages) == 1)
    page = transport.page
    assert page is not None
    mark = sink.mark()

    await page.goto(fake.url)  # destroys the execution context the hook lived in
    await sink.wait_for_state(TransportState.STARTING, since=mark)
    await sink.wait_for_state(TransportState.READY, since=mark)
    second = await fake.deliver(ALICE, "two")
    await sink.wait_for("the second message", lambda: len(sink.messages) == 2)

    # Injecting the hook again into the same document changes nothing.
    await page.evaluate("() => { window.__probe = window.__parley; }")
    await page.evaluate(hook_script())
    assert await page.evaluate("() => window.__probe === window.__parley")
    third = await fake.deliver(BOB, "three")
    await sink.wait_for("the third message", lambda: len(sink.messages) >= 3)
    await fake.deliver(BOB, "marker")
    await sink.wait_for("the marker", lambda: len(sink.messages) >= 4)
    assert ids(sink)[:3] == [first, second, third]
    assert len(ids(sink)) == 4 == len(set(ids(sink)))


async def test_a_network_loss_is_reported_and_the_gap_is_caught_up_once(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    before = await fake.deliver(ALICE, "before")
    await sink.wait_for("the first message", lambda: len(sink.messages) == 1)
    mark = sink.mark()

    await fake.drop_network()
    lost = await sink.wait_for_state(TransportState.DISCONNECTED, since=mark)
    assert "TIMEOUT" in lost.detail
    gap = await fake.deliver(ALICE, "during the outage")
    fake.restore_network()

    await sink.wait_for_state(TransportState.READY, since=mark)
    await sink.wait_for("the missed message", lambda: len(sink.messages) == 2)
    after = await fake.deliver(ALICE, "after")
    await sink.wait_for("the next message", lambda: len(sink.messages) == 3)
    assert ids(sink) == [before, gap, after]


async def test_a_page_stuck_loading_is_replaced_by_the_watchdog(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    fake.hang_loads = 1  # the first load never gets past the loading screen
    transport = make_transport(timings=replace(FAST, stuck_after=1.5))
    sink = RecordingSink()
    await transport.start(sink)

    await sink.wait_for_state(TransportState.WAITING_FOR_QR_SCAN)
    stuck = [s.detail for s in sink.statuses if s.state is TransportState.DISCONNECTED]
    assert stuck
    assert "stuck" in stuck[0]
    assert fake.page_loads >= 2


async def test_the_bridge_keeps_trying_until_the_page_can_be_reached(
    make_transport: MakeTransport,
) -> None:
    later = FakeWhatsApp(port=free_port())
    transport = make_transport(url=later.url)
    sink = RecordingSink()
    await transport.start(sink)
    await sink.wait_for(
        "two failed attempts",
        lambda: sum(s.state is TransportState.DISCONNECTED for s in sink.statuses) >= 2,
    )
    assert transport.status.state is not TransportState.WAITING_FOR_QR_SCAN
    assert any("attempt 2" in s.detail for s in sink.statuses)  # each retry is visible

    await later.start()
    try:
        await sink.wait_for_state(TransportState.WAITING_FOR_QR_SCAN)
    finally:
        await transport.stop()
        await later.close()


async def test_a_page_update_that_drops_a_module_is_reported_by_name(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    fake.missing = ["WAWebSendMsgChatAction"]
    transport = make_transport()
    sink = RecordingSink()
    await transport.start(sink)

    broken = await sink.wait_for_state(TransportState.DISCONNECTED)
    assert "WAWebSendMsgChatAction.addAndSendMsgToChat" in broken.detail
    assert VERSION in broken.detail
    assert TransportState.WAITING_FOR_QR_SCAN not in sink.states


async def test_a_page_update_that_drops_an_optional_module_still_works(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    from parley.bridge.ports import OutboundMessage

    fake.missing = ["WAWebChatStateBridge", "WAWebUpdateUnreadChatAction"]
    transport = make_transport()
    await linked(fake, transport, RecordingSink())

    await transport.send_text(OutboundMessage("out-1", ALICE, "still here"))
    assert fake.actions == [("send", ALICE, "still here")]  # no typing, no read mark


async def test_messages_that_arrived_while_the_bridge_was_stopped_come_on_the_next_start(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    first = make_transport()
    sink = RecordingSink()
    await linked(fake, first, sink)
    seen = await fake.deliver(ALICE, "seen by the first run")
    await sink.wait_for("the first message", lambda: len(sink.messages) == 1)
    await first.stop()

    missed = [
        await fake.deliver(ALICE, "while stopped"),
        await fake.deliver(BOB, "a new chat while stopped"),
    ]
    second = make_transport()
    sink2 = RecordingSink()
    await second.start(sink2)
    await sink2.wait_for_state(TransportState.READY)
    await sink2.wait_for("the missed messages", lambda: len(sink2.messages) >= 2)
    await fake.deliver(BOB, "marker")
    await sink2.wait_for("the marker", lambda: len(sink2.messages) >= 3)
    assert ids(sink2)[:2] == missed
    assert seen not in ids(sink2)
    assert len(ids(sink2)) == 3


async def test_a_pinned_page_is_served_in_place_of_the_live_one(
    fake: FakeWhatsApp, make_transport: MakeTransport, tmp_path: Path
) -> None:
    pinned = tmp_path / "whatsapp-web-pinned.html"
    pinned.write_text(
        "<!doctype html><html><head>"
        "<script>window.FAKE = {version: '2.2400.7-pinned'};</script>"
        "<script src='/static/fake_wa.js'></script></head><body></body></html>"
    )
    transport = make_transport(pinned_page=pinned)
    sink = RecordingSink()
    await transport.start(sink)

    # Only the page's version marker is awaited: Chromium's local-network checks
    # keep a page served this way from opening a socket to 127.0.0.1, a limit of
    # this local test that a pinned copy of web.whatsapp.com does not meet.
    await sink.wait_for("the pinned page", lambda: transport.web_version != "")
    assert transport.web_version == "2.2400.7-pinned"
    assert fake.page_loads == 0  # the server's own page was never fetched
