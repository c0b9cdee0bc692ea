"""The dispatcher against a local receiver that fails, holds and verifies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from parley.bridge.outbound_webhooks import (
    DeliverySettings,
    OutboundWebhookDispatcher,
    Subscriber,
)
from pymongo.database import Database
from testkit.chat_log import Chats
from testkit.webhook_receiver import SECRET, WebhookReceiver

FAST = DeliverySettings(
    timeout=5.0,
    backoff_base=0.05,
    backoff_cap=0.2,
    refresh_interval=0.2,
    flush_interval=0.05,
)
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def subscriber(url: str, events: tuple[str, ...] = ("*",), sid: str = "crm") -> Subscriber:
    return Subscriber(id=sid, url=url, events=events, secret=SECRET, source="config", replay=True)


async def write_conversations(chats: Chats, conversations: int, lines: int) -> list[UUID]:
    """Interleaves `lines` messages over `conversations` chats, as a busy bridge would."""

    def work() -> list[UUID]:
        ids = [chats.start(f"chat {n}") for n in range(conversations)]
        for line in range(lines):
            for number, chat_id in enumerate(ids):
                chats.say(chat_id, f"line {line} of chat {number}", AT + timedelta(minutes=line))
        return ids

    return await asyncio.to_thread(work)


def dispatcher(
    chats: Chats, db: Database[dict[str, Any]], *subs: Subscriber
) -> OutboundWebhookDispatcher:
    return OutboundWebhookDispatcher(chats.mongo_recorder, db, configured=subs, settings=FAST)


def assert_in_order_per_conversation(receiver: WebhookReceiver) -> None:
    for originator, versions in receiver.versions_by_originator().items():
        assert versions == sorted(versions), f"{originator} arrived out of order: {versions}"
        assert versions == list(range(1, len(versions) + 1)), f"{originator} has gaps: {versions}"


async def test_every_event_arrives_signed_and_in_order_per_conversation_despite_failures(
    chats: Chats, db: Database[dict[str, Any]], receiver: WebhookReceiver, receiver_url: str
) -> None:
    receiver.fail_first = 6
    ids = await write_conversations(chats, conversations=3, lines=8)
    total = 3 + 3 * 8
    sender = dispatcher(chats, db, subscriber(receiver_url))

    await sender.start()
    try:
        await receiver.wait_for(lambda: len(receiver.positions()) == total)
    finally:
        await sender.stop()

    assert receiver.positions() == set(range(1, total + 1))
    assert receiver.bad_signatures == 0
    assert receiver.attempts >= total + 6
    assert_in_order_per_conversation(receiver)
    assert set(receiver.versions_by_originator()) == {str(chat_id) for chat_id in ids}
    said = next(item for item in receiver.unique() if item.topic.endswith("Chat.Said"))
    assert said.topic == "testkit.chat_log:Chat.Said"
    assert said.state["text"].startswith("line 0 of chat")
    assert said.state["at"] == "2026-11-02T09:30:00+00:00"  # datetimes become ISO strings
    started = next(item for item in receiver.unique() if item.topic.endswith("Chat.Started"))
    assert started.state["name"].startswith("chat ")


async def test_a_stopped_dispatcher_resumes_where_it_stopped_and_loses_nothing(
    chats: Chats, db: Database[dict[str, Any]], receiver: WebhookReceiver, receiver_url: str
) -> None:
    await write_conversations(chats, conversations=2, lines=10)
    receiver.hold_after = 7  # then hang until released, like a receiver gone slow
    first = dispatcher(chats, db, subscriber(receiver_url))
    await first.start()
    try:
        await receiver.wait_for(lambda: len(receiver.accepted) >= 7 and receiver.held > 0)
    finally:
        await first.stop()
    delivered_before_restart = len(receiver.accepted)
    assert delivered_before_restart < 22  # it really stopped mid-way

    receiver.hold_after = None
    receiver.gate.set()
    await write_conversations(chats, conversations=1, lines=5)  # more events while down
    total = 22 + 6
    second = dispatcher(chats, db, subscriber(receiver_url))
    await second.start()
    try:
        await receiver.wait_for(lambda: len(receiver.positions()) == total)
    finally:
        await second.stop()

    assert receiver.positions() == set(range(1, total + 1))
    assert_in_order_per_conversation(receiver)
    # At least once: anything sent twice carried the same delivery id, and only
    # what was in flight at the stop went twice (a restart from the start would
    # have repeated all the first run's deliveries).
    assert len(receiver.unique()) == total
    assert len(receiver.accepted) - total <= FAST.concurrency
    by_id: dict[str, int] = {}
    for item in receiver.accepted:
        assert by_id.setdefault(item.delivery_id, item.position) == item.position


async def test_a_dead_subscriber_does_not_hold_up_the_others(
    chats: Chats, db: Database[dict[str, Any]], receiver: WebhookReceiver, receiver_url: str
) -> None:
    await write_conversations(chats, conversations=2, lines=3)
    dead = subscriber("http://127.0.0.1:9/nobody-listens", sid="dead")
    sender = dispatcher(chats, db, dead, subscriber(receiver_url, sid="live"))

    await sender.start()
    try:
        await receiver.wait_for(lambda: len(receiver.positions()) == 8)
        await asyncio.sleep(0.3)  # lets the dead one's progress be saved
    finally:
        await sender.stop()

    [dead_status] = sender.store.delivery_status("dead")
    [live_status] = sender.store.delivery_status("live")
    assert dead_status["through"] == 0
    assert dead_status["failed_attempts"] > 0
    assert "ClientConnectorError" in dead_status["last_error"]
    assert live_status["through"] == 8
    assert live_status["delivered"] == 8


async def test_a_stuck_conversation_does_not_hold_up_the_others(
    chats: Chats, db: Database[dict[str, Any]], receiver: WebhookReceiver, receiver_url: str
) -> None:
    ids = await write_conversations(chats, conversations=3, lines=4)
    stuck = str(ids[0])
    receiver.refuse = lambda document: document["originator_id"] == stuck
    sender = dispatcher(chats, db, subscriber(receiver_url))

    await sender.start()
    try:
        await receiver.wait_for(lambda: len(receiver.positions()) == 10)  # 2 chats x 5
        assert stuck not in receiver.versions_by_originator()

        receiver.refuse = lambda _: False  # the receiver is fixed
        await receiver.wait_for(lambda: len(receiver.positions()) == 15)
    finally:
        await sender.stop()

    assert receiver.versions_by_originator()[stuck] == [1, 2, 3, 4, 5]
    assert_in_order_per_conversation(receiver)


async def test_topic_filters_choose_what_a_subscriber_receives(
    chats: Chats, db: Database[dict[str, Any]], receiver: WebhookReceiver, receiver_url: str
) -> None:
    await write_conversations(chats, conversations=2, lines=3)
    sender = dispatcher(chats, db, subscriber(receiver_url, events=("*.Said",)))

    await sender.start()
    try:
        await receiver.wait_for(lambda: len(receiver.positions()) == 6)
        await asyncio.sleep(0.3)
    finally:
        await sender.stop()

    assert {item.topic for item in receiver.accepted} == {"testkit.chat_log:Chat.Said"}
    [status] = sender.store.delivery_status("crm")
    assert status["through"] == 8  # the unwanted events are settled too


async def test_a_subscriber_added_while_running_gets_only_later_events(
    chats: Chats, db: Database[dict[str, Any]], receiver: WebhookReceiver, receiver_url: str
) -> None:
    await write_conversations(chats, conversations=1, lines=2)  # positions 1-3
    sender = dispatcher(chats, db)
    await sender.start()
    try:
        await asyncio.to_thread(sender.store.add, receiver_url, ["*"], SECRET, subscriber_id="new")
        await write_conversations(chats, conversations=1, lines=1)  # positions 4-5
        await receiver.wait_for(lambda: len(receiver.positions()) == 2)
    finally:
        await sender.stop()

    assert receiver.positions() == {4, 5}
