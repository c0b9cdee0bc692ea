"""Replies through the real page hook: typing, quoting, read marks, acks, lookups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from parley.bridge.ports import (
    LookupResult,
    OutboundMessage,
    SendRejected,
    TransportState,
    TransportUnavailable,
)
from parley.domain.messages import DeliveryStatus
from testkit.fake_whatsapp import ME, FakeWhatsApp, RecordingSink
from testkit.fake_whatsapp.harness import MakeTransport, linked

pytestmark = pytest.mark.browser

ALICE = "15551230001@c.us"


async def test_a_reply_is_marked_read_typed_quoted_and_sent_and_acks_become_updates(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    question = await fake.deliver(ALICE, "Are you open on Sunday?")
    await sink.wait_for("the question", lambda: len(sink.messages) == 1)

    receipt = await transport.send_text(
        OutboundMessage("out-1", ALICE, "Yes, 10 to 4.", quoted_message_id=question)
    )

    assert len(fake.sent) == 1
    sent = fake.sent[0]
    assert sent["id"]["_serialized"] == receipt.wa_message_id
    assert sent["id"]["fromMe"] is True
    assert sent["id"]["remote"] == ALICE
    assert sent["body"] == "Yes, 10 to 4."
    assert sent["quotedStanzaID"] == question.split("_")[2]
    assert fake.actions == [
        ("seen", ALICE),
        ("typing", ALICE, "composing"),
        ("send", ALICE, "Yes, 10 to 4."),
        ("typing", ALICE, "paused"),
    ]

    await sink.wait_for("the server's ack", lambda: len(sink.deliveries) == 1)
    await fake.ack(receipt.wa_message_id, 2)
    await fake.ack(receipt.wa_message_id, 3)
    await fake.ack(receipt.wa_message_id, 3)  # WhatsApp repeats itself: reported once
    await fake.ack(receipt.wa_message_id, 2)  # and older news is not news
    await sink.wait_for("three updates", lambda: len(sink.deliveries) >= 3)
    await fake.deliver(ALICE, "Thanks!")  # everything before it has been handled
    await sink.wait_for("the thanks", lambda: len(sink.messages) == 2)
    assert [update.status for update in sink.deliveries] == [
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.READ,
    ]
    assert {(u.wa_message_id, u.chat_id) for u in sink.deliveries} == {
        (receipt.wa_message_id, ALICE)
    }
    # Parley's own reply is not handed back as an inbound message.
    assert [message.text for message in sink.messages] == ["Are you open on Sunday?", "Thanks!"]

    again = await transport.send_text(
        OutboundMessage("out-1", ALICE, "Yes, 10 to 4.", quoted_message_id=question)
    )
    assert again == receipt
    assert len(fake.sent) == 1


async def test_quoting_and_read_marks_can_be_switched_off(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport(quote_replies=False, mark_read=False, typing_seconds=0)
    sink = RecordingSink()
    await linked(fake, transport, sink)
    question = await fake.deliver(ALICE, "Hello?")
    await sink.wait_for("the question", lambda: len(sink.messages) == 1)

    await transport.send_text(OutboundMessage("out-1", ALICE, "Hi.", quoted_message_id=question))

    assert fake.sent[0]["quotedStanzaID"] is None
    assert fake.actions == [("send", ALICE, "Hi.")]


async def test_bad_replies_are_rejected_and_nothing_is_sent(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    await linked(fake, transport, RecordingSink())

    with pytest.raises(SendRejected, match="not a WhatsApp chat id"):
        await transport.send_text(OutboundMessage("out-1", "alice", "hi"))
    with pytest.raises(SendRejected, match="empty"):
        await transport.send_text(OutboundMessage("out-2", ALICE, "  \n"))
    with pytest.raises(SendRejected, match="characters"):
        await transport.send_text(OutboundMessage("out-3", ALICE, "x" * 70_000))
    # The page itself refuses a group this account is not in.
    with pytest.raises(SendRejected, match="cannot open a chat"):
        await transport.send_text(OutboundMessage("out-4", "120363999999999999@g.us", "hi"))
    assert fake.sent == []


async def test_sending_before_the_page_is_ready_is_unavailable(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    with pytest.raises(TransportUnavailable, match="stopped"):
        await transport.send_text(OutboundMessage("out-1", ALICE, "hi"))
    await transport.start(sink)
    await sink.wait_for_state(TransportState.WAITING_FOR_QR_SCAN)
    with pytest.raises(TransportUnavailable, match="waiting_for_qr_scan"):
        await transport.send_text(OutboundMessage("out-1", ALICE, "hi"))
    assert fake.sent == []


async def test_lookup_sent_knows_this_runs_sends_and_finds_earlier_ones_in_the_chat(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    first = make_transport()
    await linked(fake, first, RecordingSink())
    reply = OutboundMessage("out-1", ALICE, "See you Sunday.", recorded_at=before)
    receipt = await first.send_text(reply)
    assert (await first.lookup_sent(reply)).receipt == receipt
    await first.stop()
    assert (await first.lookup_sent(OutboundMessage("out-9", ALICE, "x"))).result is (
        LookupResult.UNKNOWN  # a stopped transport cannot look
    )

    again = make_transport()  # a new process: it knows nothing of out-1
    await again.start(sink := RecordingSink())
    await sink.wait_for_state(TransportState.READY)

    found = await again.lookup_sent(reply)
    assert found.result is LookupResult.SENT
    assert found.receipt is not None
    assert found.receipt.wa_message_id == receipt.wa_message_id

    other_text = OutboundMessage("out-2", ALICE, "See you Monday.", recorded_at=before)
    assert (await again.lookup_sent(other_text)).result is LookupResult.NOT_SENT
    later = OutboundMessage(
        "out-3", ALICE, "See you Sunday.", recorded_at=datetime.now(UTC) + timedelta(minutes=1)
    )
    assert (await again.lookup_sent(later)).result is LookupResult.NOT_SENT
    # The one message is matched to one outbound only.
    twin = OutboundMessage("out-4", ALICE, "See you Sunday.", recorded_at=before)
    assert (await again.lookup_sent(twin)).result is LookupResult.NOT_SENT
    elsewhere = OutboundMessage("out-5", "15559999999@c.us", "See you Sunday.")
    assert (await again.lookup_sent(elsewhere)).result is LookupResult.NOT_SENT


async def test_a_send_cut_off_by_a_navigation_is_unavailable_and_then_found_sent(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    fake.hold_sends = True  # the server takes the message but the page never hears back
    reply = OutboundMessage("out-1", ALICE, "On my way.", recorded_at=datetime.now(UTC))

    page = transport.page
    assert page is not None
    sending = asyncio.create_task(transport.send_text(reply))
    await sink.wait_for("the server to get the message", lambda: len(fake.sent) == 1)
    mark = sink.mark()
    await page.evaluate("() => location.reload()")
    with pytest.raises(TransportUnavailable):
        await sending
    fake.release_held_sends()

    await sink.wait_for_state(TransportState.READY, since=mark)
    found = await transport.lookup_sent(reply)
    assert found.result is LookupResult.SENT
    assert found.receipt is not None
    assert found.receipt.wa_message_id == fake.sent[0]["id"]["_serialized"]
    # Retrying the same outbound does not send it again, and the catch-up did not
    # mistake Parley's own reply for something the owner typed.
    assert await transport.send_text(reply) == found.receipt
    assert len(fake.sent) == 1
    assert "On my way." not in sink.texts()


async def test_a_reply_in_a_group_is_sent_as_this_account_in_that_group(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    group = "120363000000000001@g.us"
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    asked = await fake.deliver(group, "who's bringing cake?", sender=ALICE, push_name="Alice")
    await sink.wait_for("the question", lambda: len(sink.messages) == 1)

    receipt = await transport.send_text(
        OutboundMessage("out-1", group, "I will.", quoted_message_id=asked)
    )

    key = fake.sent[0]["id"]
    assert (key["remote"], key["participant"], key["fromMe"]) == (group, ME, True)
    assert receipt.wa_message_id == key["_serialized"]
    assert fake.sent[0]["quotedParticipant"] == ALICE
