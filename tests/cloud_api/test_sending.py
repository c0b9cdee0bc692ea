"""Replies through a local fake Graph API: request shape, retries, refusals,
timeouts, the 24-hour window and what `lookup_sent` can tell afterwards."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from parley.bridge.cloud_api import CloudApiTransport
from parley.bridge.cloud_api.state import SENDS
from parley.bridge.ports import (
    LookupResult,
    OutboundMessage,
    SendRejected,
    TransportState,
    TransportUnavailable,
)
from pymongo import monitoring
from testkit import meta_webhooks as meta
from testkit.cloud_rig import ACCESS_TOKEN, CloudRig
from testkit.fake_graph_api import Answer, meta_error
from testkit.meta_webhooks import PHONE_NUMBER_ID

ALICE = "447700900123"
CHAT = f"{ALICE}@c.us"


async def alice_writes(rig: CloudRig, at: datetime, wamid: str = "wamid.IN1") -> None:
    document = meta.notification(
        meta.messages_change(meta.text(ALICE, wamid, "Hello?", int(at.timestamp())))
    )
    status, _ = await rig.post(document)
    assert status == 200


def reply(
    outbound_id: str = "out-1", text: str = "Hello Alice!", quoted: str = ""
) -> OutboundMessage:
    return OutboundMessage(
        outbound_id=outbound_id, chat_id=CHAT, text=text, quoted_message_id=quoted
    )


async def test_reply_is_posted_with_token_quote_and_outbound_id(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)

    receipt = await rig.transport.send_text(reply(quoted="wamid.IN1"))

    [request] = rig.graph.requests
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.authorization == f"Bearer {ACCESS_TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": ALICE,
        "type": "text",
        "text": {"preview_url": False, "body": "Hello Alice!"},
        "context": {"message_id": "wamid.IN1"},
        "biz_opaque_callback_data": "out-1",
    }
    assert receipt.wa_message_id.startswith("wamid.")
    assert receipt.sent_at == rig.clock.now
    lookup = await rig.transport.lookup_sent(reply())
    assert lookup.result is LookupResult.SENT
    assert lookup.receipt == receipt


async def test_a_reply_without_a_quote_sends_no_context(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)

    await rig.transport.send_text(reply())

    assert "context" not in rig.graph.requests[0].body


async def test_429_is_retried_after_the_pause_retry_after_asks_for(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)
    rig.graph.script = [
        Answer(429, meta_error("Rate limit hit", 130429), headers={"Retry-After": "7"})
    ]

    receipt = await rig.transport.send_text(reply())

    assert len(rig.graph.requests) == 2
    assert rig.pauses.pauses == [7.0]
    assert receipt.wa_message_id.startswith("wamid.")


async def test_5xx_answers_are_retried_with_growing_backoff(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)
    rig.graph.script = [
        Answer(500, meta_error("An unknown error occurred", 1)),
        Answer(503, meta_error("Service temporarily unavailable", 2)),
    ]

    await rig.transport.send_text(reply())

    assert len(rig.graph.requests) == 3
    first, second = rig.pauses.pauses
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


async def test_5xx_until_the_last_attempt_reports_unavailable_and_not_sent(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)
    rig.graph.script = [Answer(500, meta_error("An unknown error occurred", 1))] * 4

    with pytest.raises(TransportUnavailable, match="answered 500"):
        await rig.transport.send_text(reply())

    assert len(rig.graph.requests) == 4
    assert (await rig.transport.lookup_sent(reply())).result is LookupResult.NOT_SENT


async def test_400_is_not_retried_and_rejects_with_metas_message(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)
    rig.graph.script = [
        Answer(
            400,
            meta_error(
                "(#131009) Parameter value is not valid",
                131009,
                "Recipient phone number not in allowed list",
            ),
        )
    ]

    with pytest.raises(SendRejected) as caught:
        await rig.transport.send_text(reply())

    assert str(caught.value) == (
        "WhatsApp refused the message: (#131009) Parameter value is not valid "
        "(code 131009): Recipient phone number not in allowed list"
    )
    assert len(rig.graph.requests) == 1
    assert rig.pauses.pauses == []
    assert (await rig.transport.lookup_sent(reply())).result is LookupResult.NOT_SENT


async def test_metas_own_window_refusal_is_reported_as_outside_the_window(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)
    rig.graph.script = [
        Answer(
            400,
            meta_error(
                "Re-engagement message",
                131047,
                "Message failed to send because more than 24 hours have passed",
            ),
        )
    ]

    with pytest.raises(SendRejected, match="outside the 24-hour customer-service window"):
        await rig.transport.send_text(reply())


async def test_timeout_is_not_retried_and_lookup_is_unknown_until_a_status_confirms(
    rig: CloudRig,
) -> None:
    await alice_writes(rig, rig.clock.now)
    quick = CloudApiTransport(
        replace(rig.transport.config, send_timeout=0.5),
        rig.db,
        account="acme",
        clock=rig.clock,
        sleep=rig.pauses,
    )
    await quick.start(rig.sink)
    rig.graph.script = [Answer(hang=True)]
    try:
        with pytest.raises(TransportUnavailable, match="may or may not have been sent"):
            await quick.send_text(reply())
        assert len(rig.graph.requests) == 1
        assert (await quick.lookup_sent(reply())).result is LookupResult.UNKNOWN

        # WhatsApp did take it: its status webhook echoes our outbound id.
        sent_at = rig.clock.now + timedelta(seconds=2)
        document = meta.notification(
            meta.statuses_change(
                meta.status("wamid.LATE", "sent", ALICE, int(sent_at.timestamp()), opaque="out-1")
            )
        )
        status, _ = await rig.post(document)
        assert status == 200

        lookup = await quick.lookup_sent(reply())
        assert lookup.result is LookupResult.SENT
        assert lookup.receipt is not None
        assert lookup.receipt.wa_message_id == "wamid.LATE"
    finally:
        await quick.stop()


async def test_the_24_hour_window_is_honoured(rig: CloudRig) -> None:
    wrote_at = rig.clock.now.replace(microsecond=0)
    await alice_writes(rig, wrote_at)

    rig.clock.now = wrote_at + timedelta(hours=23, minutes=59)
    await rig.transport.send_text(reply("in-window"))

    rig.clock.now = wrote_at + timedelta(hours=24, seconds=1)
    with pytest.raises(SendRejected) as caught:
        await rig.transport.send_text(reply("too-late"))

    assert "outside the 24-hour customer-service window" in str(caught.value)
    assert wrote_at.isoformat(timespec="seconds") in str(caught.value)
    assert [r.body["biz_opaque_callback_data"] for r in rig.graph.requests] == ["in-window"]
    assert (await rig.transport.lookup_sent(reply("too-late"))).result is LookupResult.NOT_SENT

    # A new message from Alice opens the window again.
    await alice_writes(rig, rig.clock.now, wamid="wamid.IN2")
    await rig.transport.send_text(reply("reopened"))
    assert len(rig.graph.requests) == 2


async def test_a_contact_who_never_wrote_gets_no_free_text(rig: CloudRig) -> None:
    with pytest.raises(SendRejected, match="last wrote: never"):
        await rig.transport.send_text(reply())
    assert rig.graph.requests == []


async def test_window_and_sent_records_survive_a_restart(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)
    receipt = await rig.transport.send_text(reply())
    await rig.transport.stop()

    restarted = rig.another_transport()
    await restarted.start(rig.sink)
    try:
        lookup = await restarted.lookup_sent(reply())
        assert lookup.result is LookupResult.SENT
        assert lookup.receipt is not None
        assert lookup.receipt.wa_message_id == receipt.wa_message_id
        assert (await restarted.lookup_sent(reply("never-sent"))).result is LookupResult.NOT_SENT
        await restarted.send_text(reply("after-restart"))  # the window was remembered
        assert len(rig.graph.requests) == 2
    finally:
        await restarted.stop()


async def test_sending_the_same_outbound_id_twice_sends_once(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)

    first = await rig.transport.send_text(reply())
    again = await rig.transport.send_text(reply())

    assert again.wa_message_id == first.wa_message_id
    assert len(rig.graph.requests) == 1


async def test_a_rejected_access_token_marks_the_transport_disconnected(rig: CloudRig) -> None:
    await alice_writes(rig, rig.clock.now)
    broken = CloudApiTransport(
        replace(rig.transport.config, access_token="expired"),
        rig.db,
        account="acme",
        clock=rig.clock,
        sleep=rig.pauses,
    )
    await broken.start(rig.sink)
    try:
        with pytest.raises(SendRejected, match="Error validating access token"):
            await broken.send_text(reply())
        assert broken.status.state is TransportState.DISCONNECTED
        assert rig.sink.statuses[-1].detail == "the access token was rejected"
    finally:
        await broken.stop()


@pytest.mark.parametrize(
    ("chat_id", "text", "problem"),
    [
        ("120363043211234567@g.us", "hi", "one person's number"),
        (CHAT, "   ", "empty message"),
        (CHAT, "x" * 4097, "at most 4096 characters"),
    ],
)
async def test_messages_the_cloud_api_cannot_carry_are_rejected_before_sending(
    rig: CloudRig, chat_id: str, text: str, problem: str
) -> None:
    await alice_writes(rig, rig.clock.now)
    message = OutboundMessage(outbound_id="o", chat_id=chat_id, text=text)

    with pytest.raises(SendRejected, match=problem):
        await rig.transport.send_text(message)
    assert rig.graph.requests == []


async def test_sending_before_start_is_unavailable(rig: CloudRig) -> None:
    idle = rig.another_transport()
    with pytest.raises(TransportUnavailable):
        await idle.send_text(reply())


async def test_a_burst_of_messages_stores_the_window_once_and_a_restart_errs_early(
    rig: CloudRig,
) -> None:
    first = rig.clock.now.replace(microsecond=0)
    for index in range(5):  # within a minute of the stored time: one write
        await alice_writes(rig, first + timedelta(seconds=10 * index), wamid=f"wamid.B{index}")
    assert rig.transport.last_inbound_at(CHAT) == first

    # This process saw the newest message (40 s later) and answers by it.
    rig.clock.now = first + timedelta(hours=24, seconds=20)
    await rig.transport.send_text(reply("seen-here"))
    await rig.transport.stop()

    # A new process knows only the stored time, under a minute older: it closes
    # the window a little early, never late.
    restarted = rig.another_transport()
    await restarted.start(rig.sink)
    try:
        with pytest.raises(SendRejected):
            await restarted.send_text(reply("after-restart"))
        rig.clock.now = first + timedelta(hours=23, minutes=59)
        await restarted.send_text(reply("within-the-stored-window"))
    finally:
        await restarted.stop()
    assert [r.body["biz_opaque_callback_data"] for r in rig.graph.requests] == [
        "seen-here",
        "within-the-stored-window",
    ]


async def test_a_send_its_caller_gives_up_on_still_runs_to_its_outcome(rig: CloudRig) -> None:
    """Cancelled once the send is under way (a shutdown, a caller's timeout), the
    send is not cut between "pending" and the request: left there, the next start
    could only call it in doubt and never resend it."""
    await alice_writes(rig, rig.clock.now)
    caller = asyncio.create_task(rig.transport.send_text(reply()))
    await asyncio.sleep(0)  # the send has begun: its ledger entry is being written
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller

    await rig.transport.stop()  # waits for sends under way

    assert len(rig.graph.requests) == 1
    lookup = await rig.transport.lookup_sent(reply())
    assert lookup.result is LookupResult.SENT


class LedgerWrites(monitoring.CommandListener):
    """Counts updates of the send ledger in one database (registered once: pymongo
    takes listeners only at client creation)."""

    def __init__(self) -> None:
        self.database = ""
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database and event.command.get("update") == SENDS:
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


LEDGER_WRITES = LedgerWrites()
monitoring.register(LEDGER_WRITES)


async def a_status_for(rig: CloudRig, outbound_id: str, wamid: str) -> int:
    at = int(rig.clock.now.timestamp())
    document = meta.notification(
        meta.statuses_change(meta.status(wamid, "sent", ALICE, at, opaque=outbound_id))
    )
    status, _ = await rig.post(document)
    return status


async def until_requested(rig: CloudRig, count: int) -> None:
    async with asyncio.timeout(5):
        while len(rig.graph.requests) < count:  # noqa: ASYNC110 - the fake server only records
            await asyncio.sleep(0.01)


async def test_a_status_outrunning_the_graph_answer_waits_for_its_send_and_writes_once(
    rig: CloudRig, database_name: str
) -> None:
    await alice_writes(rig, rig.clock.now)
    rig.graph.script = [Answer(delay=0.3)]
    sending = asyncio.create_task(rig.transport.send_text(reply()))
    await until_requested(rig, 1)
    LEDGER_WRITES.database = database_name
    before = LEDGER_WRITES.count

    assert await a_status_for(rig, "out-1", "wamid.STATUS") == 200

    assert sending.done()  # the webhook was answered after the send's own record
    receipt = await sending
    assert LEDGER_WRITES.count - before == 1  # "accepted", by the send alone
    lookup = await rig.transport.lookup_sent(reply())
    assert lookup.receipt is not None
    assert lookup.receipt.wa_message_id == receipt.wa_message_id


async def test_a_status_for_a_send_still_hanging_confirms_it_after_a_short_wait(
    rig: CloudRig,
) -> None:
    await alice_writes(rig, rig.clock.now)
    rig.transport.status_waits_for_send = 0.2
    rig.graph.script = [Answer(hang=True)]
    sending = asyncio.create_task(rig.transport.send_text(reply()))
    await until_requested(rig, 1)

    assert await a_status_for(rig, "out-1", "wamid.CONFIRMED") == 200

    assert not sending.done()
    lookup = await rig.transport.lookup_sent(reply())
    assert lookup.result is LookupResult.SENT
    assert lookup.receipt is not None
    assert lookup.receipt.wa_message_id == "wamid.CONFIRMED"
    sending.cancel()
