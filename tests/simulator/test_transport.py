"""SimulatorTransport over the real database: the inbox it follows and the
outbox it writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from parley.bridge.ports import LookupResult, OutboundMessage, SendRejected, TransportState
from parley.bridge.simulator import (
    InvalidSimulatedMessage,
    SimulatedMessage,
    SimulatorMailbox,
    SimulatorTransport,
    parse_simulated,
)
from parley.domain.messages import MessageKind
from pymongo.database import Database
from testkit.echo_sink import EchoSink
from testkit.recording_sink import RecordingSink

ACCOUNT = "acme"
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def typed(
    text: str, number: str = "447700900123", relationship: str = "friend"
) -> SimulatedMessage:
    return SimulatedMessage(number=number, name="Alex Sample", relationship=relationship, text=text)


async def test_an_inbox_message_reaches_the_sink_as_typed_with_its_relationship(
    db: Database[dict[str, Any]],
) -> None:
    transport = SimulatorTransport(db, account=ACCOUNT, poll_interval=0.5)
    sink = RecordingSink()
    await transport.start(sink)
    try:
        assert transport.status.state is TransportState.READY
        mailbox = SimulatorMailbox(db, ACCOUNT)
        wa_message_id = mailbox.post(typed("  Hi <b>there</b>\nsecond line  "), AT)
        await sink.wait_for(lambda: len(sink.messages) == 1)
    finally:
        await transport.stop()

    [message] = sink.messages
    assert message.wa_message_id == wa_message_id
    assert message.account == ACCOUNT
    assert message.chat_id == "447700900123@c.us"
    assert (message.sender, message.push_name) == ("447700900123", "Alex Sample")
    assert message.kind is MessageKind.TEXT
    assert message.text == "  Hi <b>there</b>\nsecond line  "
    assert message.sent_at == AT
    assert message.extra == {"relationship": "friend"}
    assert sink.statuses[-1].state is TransportState.STOPPED


async def test_messages_are_handed_over_in_order_and_not_again_after_a_restart(
    db: Database[dict[str, Any]],
) -> None:
    mailbox = SimulatorMailbox(db, ACCOUNT)
    ids = [mailbox.post(typed(f"message {n}", relationship=""), AT) for n in range(5)]
    sink = RecordingSink()
    transport = SimulatorTransport(db, account=ACCOUNT, poll_interval=0.2)
    await transport.start(sink)
    try:
        await sink.wait_for(lambda: len(sink.messages) == 5)
    finally:
        await transport.stop()
    assert [m.wa_message_id for m in sink.messages] == ids
    assert sink.messages[0].extra == {}

    restarted_sink = RecordingSink()
    restarted = SimulatorTransport(db, account=ACCOUNT, poll_interval=0.2)
    await restarted.start(restarted_sink)
    try:
        later = mailbox.post(typed("after the restart"), AT)
        await restarted_sink.wait_for(lambda: len(restarted_sink.messages) == 1)
    finally:
        await restarted.stop()
    assert [m.wa_message_id for m in restarted_sink.messages] == [later]


async def test_polling_alone_delivers_when_no_change_stream_wakes_the_follower(
    db: Database[dict[str, Any]],
) -> None:
    transport = SimulatorTransport(db, account=ACCOUNT, poll_interval=0.2, use_change_stream=False)
    sink = RecordingSink()
    await transport.start(sink)
    try:
        SimulatorMailbox(db, ACCOUNT).post(typed("is anyone there?"), AT)
        await sink.wait_for(lambda: len(sink.messages) == 1)
    finally:
        await transport.stop()
    assert sink.messages[0].text == "is anyone there?"


async def test_the_change_stream_wakes_the_follower_long_before_its_poll_timer(
    db: Database[dict[str, Any]],
) -> None:
    # With an hour between polls, only the change stream can bring this in time.
    transport = SimulatorTransport(db, account=ACCOUNT, poll_interval=3600)
    sink = RecordingSink()
    await transport.start(sink)
    try:
        for n in range(3):
            SimulatorMailbox(db, ACCOUNT).post(typed(f"ping {n}"), AT)
            await sink.wait_for(lambda n=n: len(sink.messages) == n + 1)
    finally:
        await transport.stop()


async def test_other_accounts_messages_are_left_alone(db: Database[dict[str, Any]]) -> None:
    SimulatorMailbox(db, "other").post(typed("for someone else"), AT)
    mine = SimulatorMailbox(db, ACCOUNT).post(typed("for acme"), AT)
    transport = SimulatorTransport(db, account=ACCOUNT, poll_interval=0.2)
    sink = RecordingSink()
    await transport.start(sink)
    try:
        await sink.wait_for(lambda: len(sink.messages) == 1)
    finally:
        await transport.stop()
    assert [m.wa_message_id for m in sink.messages] == [mine]


async def test_a_refused_message_is_offered_again_and_order_holds(
    db: Database[dict[str, Any]],
) -> None:
    transport = SimulatorTransport(db, account=ACCOUNT, poll_interval=0.2)
    sink = EchoSink(transport)
    sink.fail_next = 2
    mailbox = SimulatorMailbox(db, ACCOUNT)
    first = mailbox.post(typed("first"), AT)
    second = mailbox.post(typed("second"), AT)
    await transport.start(sink)
    try:
        await sink.wait_for_count(2)
    finally:
        await transport.stop()
    assert [m.wa_message_id for m in sink.messages] == [first, second]


async def test_send_text_writes_the_outbox_once_and_lookup_is_exact(
    db: Database[dict[str, Any]],
) -> None:
    transport = SimulatorTransport(db, account=ACCOUNT)
    await transport.start(RecordingSink())
    reply = OutboundMessage("out-1", "447700900123@c.us", "Hello Alex", quoted_message_id="sim-1")
    try:
        assert (await transport.lookup_sent(reply)).result is LookupResult.NOT_SENT
        receipt = await transport.send_text(reply)
        again = await transport.send_text(reply)
        lookup = await transport.lookup_sent(reply)
        with pytest.raises(SendRejected):
            await transport.send_text(OutboundMessage("out-2", "447700900123@c.us", " "))
    finally:
        await transport.stop()

    assert again == receipt
    assert lookup.result is LookupResult.SENT
    assert lookup.receipt == receipt
    [stored] = list(db["simulator_outbox"].find())
    assert (stored["_id"], stored["text"], stored["quoted_message_id"]) == (
        "out-1",
        "Hello Alex",
        "sim-1",
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"number": "12", "text": "hi"}, "number must be 5 to 15 digits"),
        ({"number": "447700900123", "text": "   "}, "text must not be empty"),
        ({"number": "447700900123", "text": "x" * 4097}, "at most 4096"),
        ({"number": "447700900123", "text": "hi", "relationship": "boss"}, "relationship"),
        ({"number": "447700900123", "text": "hi", "name": "a\x00b"}, "name must be"),
        ({"number": "447700900123", "text": "hi", "admin": True}, "unknown fields: admin"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_what_the_page_sends_is_validated(document: Any, problem: str) -> None:
    with pytest.raises(InvalidSimulatedMessage, match=problem):
        parse_simulated(document)


def test_a_number_may_be_written_the_way_people_write_numbers() -> None:
    message = parse_simulated({"number": "+44 (7700) 900-123", "text": "hi"})
    assert message.chat_id == "447700900123@c.us"
