"""The write side and the reply process, through the real event store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from parley.bridge.context import AggregateContextSource
from parley.bridge.intake import Intake
from parley.bridge.ports import (
    GeneratedReply,
    LookupResult,
    OutboundMessage,
    ReplyContext,
    SendReceipt,
    SendRejected,
    TransportUnavailable,
)
from parley.bridge.replies.offline import OfflineReplyModel
from parley.bridge.reply_process import UNKNOWN_OUTCOME, ReplyProcess, ReplySettings
from parley.domain.application import ParleyApp
from parley.domain.messages import DeliveryStatus, DeliveryUpdate
from parley.domain.profiles import Relationship
from parley.domain.rules import BotRules
from parley.domain.thread import ReplyStatus, ThreadState
from parley.eventstore.factory import factory_settings
from testkit.inbound import T0, inbound
from testkit.transport import RecordingTransport


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingModel:
    """The real offline model, remembering the contexts it was given."""

    name = "recording"

    def __init__(self) -> None:
        self.inner = OfflineReplyModel()
        self.contexts: list[ReplyContext] = []

    async def generate(self, context: ReplyContext) -> GeneratedReply:
        self.contexts.append(context)
        await asyncio.sleep(0.01)  # let other threads interleave
        return await self.inner.generate(context)


@pytest.fixture
def app(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    application = ParleyApp(
        env=factory_settings(mongo_uri, database_name, MONGODB_POLL_INTERVAL=0.2),
        rules=BotRules(quiet_hours={}),
    )
    yield application
    application.close()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_process(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> ReplyProcess:
    return ReplyProcess(
        app=app,
        model=model,
        transport=transport,
        context_source=AggregateContextSource(app),
        clock=clock,
        settings=ReplySettings(
            backoff_initial=0.01, backoff_max=0.05, send_attempts=3, unknown_outcome_wait=0.3
        ),
    )


@asynccontextmanager
async def running(process: ReplyProcess) -> AsyncIterator[ReplyProcess]:
    stop = asyncio.Event()
    task = asyncio.create_task(process.run(stop))
    try:
        yield process
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def event_names(app: ParleyApp, originator: UUID) -> list[str]:
    notifications = app.event_log.select_notifications(start=1, limit=100_000)
    return [n.topic.rsplit(".", 1)[-1] for n in notifications if n.originator_id == originator]


def reply_statuses(app: ParleyApp, thread_id: UUID) -> list[ReplyStatus]:
    return [reply["status"] for reply in app.get_thread(thread_id).replies.values()]


async def test_one_inbound_gives_received_sentiment_topics_generated_sent_in_order(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    result = app.receive(inbound("I love the new menu, can we book a table for Friday?"))
    assert result.thread_id is not None
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.SENT])
    assert event_names(app, result.thread_id) == [
        "Opened",
        "MessageReceived",
        "SentimentAssessed",
        "TopicsDetected",
        "ReplyGenerated",
        "ReplySent",
    ]
    assert len(transport.sent) == 1
    assert transport.lookups == 0  # nothing to ask: this run made the reply


async def test_the_same_delivery_three_times_gets_one_reply(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    message = inbound("Are you open on Sunday?")
    process = make_process(app, model, transport, clock)
    intake = Intake(app, on_recorded=process.nudge)  # type: ignore[arg-type]
    async with running(process):
        await asyncio.gather(*(intake.on_message(message) for _ in range(3)))
        await eventually(lambda: len(transport.sent) == 1)
        await asyncio.sleep(0.5)  # room for a wrong second reply to show up
    assert intake.recorded == 1
    assert intake.duplicates == 2
    assert len(transport.sent) == 1
    thread_id = app.receive(message)
    assert thread_id.duplicate
    names = [n.topic.rsplit(".", 1)[-1] for n in app.event_log.select_notifications(1, 10_000)]
    assert names.count("MessageReceived") == 1
    assert names.count("ReplyGenerated") == 1
    assert names.count("ReplySent") == 1


async def test_two_contacts_at_once_never_see_each_others_context(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    process = make_process(app, model, transport, clock)
    intake = Intake(app, on_recorded=process.nudge)  # type: ignore[arg-type]
    ana = [
        inbound(f"ana secret {i}", number="4911111", at=T0 + timedelta(seconds=i)) for i in range(4)
    ]
    ben = [
        inbound(f"ben secret {i}", number="4922222", at=T0 + timedelta(seconds=i)) for i in range(4)
    ]
    async with running(process):
        for pair in zip(ana, ben, strict=True):
            await asyncio.gather(*(intake.on_message(m) for m in pair))
        await eventually(lambda: len(transport.sent) == 8)
    assert len(model.contexts) == 8
    for context in model.contexts:
        owner = "ana" if context.chat_id.startswith("4911111") else "ben"
        other = "ben" if owner == "ana" else "ana"
        seen = [context.inbound_text, *(turn.text for turn in context.history)]
        assert all(other not in text for text in seen), (owner, seen)
        assert context.inbound_text.startswith(f"{owner} secret")
    # And each chat got its replies in the order its messages came.
    for number in ("4911111", "4922222"):
        chats = [m for m in transport.sent if m.chat_id.startswith(number)]
        assert len(chats) == 4


async def test_a_paused_thread_gets_no_reply(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    first = app.receive(inbound("first"))
    assert first.thread_id is not None
    app.pause_bot(first.thread_id, by="operator", reason="taking over", at=T0)
    second = app.receive(inbound("second", at=T0 + timedelta(minutes=1)))
    assert second.withheld == "bot paused"
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: not app.get_thread(first.thread_id).pending)
        await asyncio.sleep(0.3)
    assert transport.sent == []
    withheld = [r["withheld"] for r in app.get_thread(first.thread_id).inbound.values()]
    assert withheld == ["bot paused", "bot paused"]


def test_idle_archive_and_resume_happen_at_the_right_times(app: ParleyApp) -> None:
    first = app.receive(inbound("hi", at=T0))
    thread_id = first.thread_id
    assert thread_id is not None
    assert app.sweep_thread(thread_id, T0 + timedelta(minutes=29)) is ThreadState.ACTIVE
    assert app.sweep_thread(thread_id, T0 + timedelta(minutes=30)) is ThreadState.IDLE
    again = app.receive(inbound("back", at=T0 + timedelta(hours=2)))
    assert again.thread_id == thread_id
    thread = app.get_thread(thread_id)
    assert thread.state is ThreadState.ACTIVE
    assert event_names(app, thread_id)[-5:] == [
        "Idled",
        "Resumed",
        "MessageReceived",
        "SentimentAssessed",
        "TopicsDetected",
    ]
    # Seven days after the last message the thread is archived; the next message
    # opens a new thread linked to it, and the archive time is the due time.
    late = T0 + timedelta(hours=2) + timedelta(days=7, seconds=1)
    newer = app.receive(inbound("long time no see", at=late))
    assert newer.thread_id != thread_id
    assert newer.thread_id is not None
    old = app.get_thread(thread_id)
    assert old.state is ThreadState.ARCHIVED
    assert app.get_thread(newer.thread_id).previous_thread_id == thread_id
    archived = [
        n for n in app.event_log.select_notifications(1, 1000) if n.topic.endswith("Archived")
    ]
    assert len(archived) == 1
    assert b"2026-12-02T14:00:00" in archived[0].state  # last message + 7 days, not "now"


def test_an_idle_thread_that_misses_its_sweep_still_records_the_transition(
    app: ParleyApp,
) -> None:
    first = app.receive(inbound("hi", at=T0))
    assert first.thread_id is not None
    app.receive(inbound("later", at=T0 + timedelta(hours=3)))
    names = event_names(app, first.thread_id)
    assert names.index("Idled") < names.index("Resumed") < len(names)
    idled = [n for n in app.event_log.select_notifications(1, 100) if n.topic.endswith("Idled")]
    assert b"2026-11-25T12:30:00" in idled[0].state


async def test_group_messages_are_recorded_but_answered_only_when_mentioned(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    group = {"chat_id": "120363001@g.us", "is_group": True}
    quiet = app.receive(inbound("lunch anyone?", **group))
    asked = app.receive(inbound("@bot what time is it?", mentions_me=True, **group))
    assert quiet.withheld == "group message without a mention"
    assert asked.withheld == ""
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: len(transport.sent) == 1)
    assert transport.sent[0].chat_id == "120363001@g.us"
    app.set_group_replies("acct", "120363001@g.us", enabled=True, by="op", at=T0)
    assert app.receive(inbound("anyone?", **group)).withheld == ""


def test_own_messages_and_statuses_get_no_reply(app: ParleyApp) -> None:
    assert app.receive(inbound("sent from my phone", from_me=True)).withheld == "own message"
    status = inbound("my status", chat_id="status@broadcast", is_status_broadcast=True)
    assert app.receive(status).withheld == "status broadcast"


async def test_quiet_hours_by_relationship_withhold_the_reply(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport
) -> None:
    app.rules = BotRules(timezone="Europe/Berlin")
    night = datetime(2026, 11, 25, 22, 30, tzinfo=T0.tzinfo)  # 23:30 in Berlin
    result = app.receive(inbound("Invoice question", at=night, extra={"relationship": "client"}))
    friend = app.receive(inbound("u up?", number="4933333", at=night))
    assert result.thread_id is not None
    assert friend.thread_id is not None
    async with running(make_process(app, model, transport, Clock(night))):
        await eventually(lambda: not app.get_thread(result.thread_id).pending)
        await eventually(lambda: len(transport.sent) == 1)
    withheld = next(iter(app.get_thread(result.thread_id).inbound.values()))["withheld"]
    assert withheld == "quiet hours (client)"
    assert transport.sent[0].chat_id.startswith("4933333")


async def test_the_reply_rate_guard_stops_a_flood(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    app.rules = BotRules(quiet_hours={}, max_replies=3, rate_window=timedelta(minutes=10))
    results = [app.receive(inbound(f"spam {i}", at=T0 + timedelta(seconds=i))) for i in range(5)]
    thread_id = results[0].thread_id
    assert thread_id is not None
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: not app.get_thread(thread_id).pending)
    assert len(transport.sent) == 3
    reasons = [r["withheld"] for r in app.get_thread(thread_id).inbound.values()]
    assert reasons[3:] == ["reply rate limit: 3 replies in 10 minutes"] * 2


def test_a_long_text_is_recorded_whole_and_the_cap_is_recorded(app: ParleyApp) -> None:
    text = "word " * 3000  # 15,000 characters
    result = app.receive(inbound(text))
    assert result.thread_id is not None
    thread = app.get_thread(result.thread_id)
    assert next(iter(thread.inbound.values()))["text"] == text
    capped = [
        n for n in app.event_log.select_notifications(1, 100) if n.topic.endswith("TextCapped")
    ]
    assert len(capped) == 1
    assert b'"length":15000' in capped[0].state


async def test_sends_are_retried_and_the_attempts_recorded(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    transport.failures = [TransportUnavailable("offline"), TransportUnavailable("offline")]
    result = app.receive(inbound("hello?"))
    assert result.thread_id is not None
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.SENT])
    reply = next(iter(app.get_thread(result.thread_id).replies.values()))
    assert reply["attempts"] == 3
    assert len(transport.sent) == 1


async def test_a_rejected_send_is_recorded_as_failed_with_its_reason(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    transport.failures = [SendRejected("outside the 24-hour customer-service window")]
    result = app.receive(inbound("hello?"))
    assert result.thread_id is not None
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.FAILED])
    failed = [n for n in app.event_log.select_notifications(1, 100) if n.topic.endswith("Failed")]
    assert b"outside the 24-hour customer-service window" in failed[0].state
    assert b'"permanent":true' in failed[0].state


async def test_a_reply_left_unsent_by_a_crash_is_looked_up_not_resent(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    from parley.domain.application import ReplyOutcome

    result = app.receive(inbound("did you get this?"))
    assert result.thread_id is not None
    wa_id = next(iter(app.get_thread(result.thread_id).inbound))
    outcome = ReplyOutcome("Yes!", "m", 1.0, None, None, "STOP", "d", False, "")
    reply_id = app.record_generated(result.thread_id, wa_id, outcome, T0)
    # The previous run sent it and died before recording so.
    from parley.bridge.ports import OutboundMessage

    await transport.send_text(OutboundMessage(reply_id, "491511234567@c.us", "Yes!"))
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.SENT])
    assert len(transport.sent) == 1
    assert transport.lookups == 1


async def test_when_the_transport_cannot_tell_the_reply_is_failed_not_resent(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    from parley.domain.application import ReplyOutcome

    result = app.receive(inbound("still there?"))
    assert result.thread_id is not None
    wa_id = next(iter(app.get_thread(result.thread_id).inbound))
    outcome = ReplyOutcome("Yes", "m", 1.0, None, None, "STOP", "d", False, "")
    app.record_generated(result.thread_id, wa_id, outcome, T0)
    transport.lookup_answer = LookupResult.UNKNOWN
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.FAILED])
    assert transport.sent == []
    failed = [n for n in app.event_log.select_notifications(1, 100) if n.topic.endswith("Failed")]
    assert UNKNOWN_OUTCOME.encode() in failed[0].state


async def test_delivery_acknowledgements_are_recorded_once_each(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    result = app.receive(inbound("ping"))
    assert result.thread_id is not None
    async with running(make_process(app, model, transport, clock)):
        await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.SENT])
    reply = next(iter(app.get_thread(result.thread_id).replies.values()))
    intake = Intake(app, on_recorded=lambda _: None)
    update = DeliveryUpdate(
        "acct", "491511234567@c.us", reply["wa_message_id"], DeliveryStatus.DELIVERED, T0
    )
    await intake.on_delivery(update)
    await intake.on_delivery(update)
    await intake.on_delivery(replace(update, status=DeliveryStatus.READ))
    names = event_names(app, result.thread_id)
    assert names.count("DeliveryUpdated") == 2
    replies = app.get_thread(result.thread_id).replies
    assert [r["delivery"] for r in replies.values()] == ["read"]


def test_the_simulators_relationship_reaches_the_contact(app: ParleyApp) -> None:
    result = app.receive(inbound("hi mum", extra={"relationship": "family"}))
    assert result.contact_id is not None
    assert app.get_contact(result.contact_id).relationship is Relationship.FAMILY


async def test_bad_inbound_is_refused_and_nothing_stored(app: ParleyApp) -> None:
    intake = Intake(app, on_recorded=lambda _: None)
    await intake.on_message(inbound("x", chat_id="not a chat"))
    await intake.on_message(inbound("y" * 70_000))
    assert intake.refused == 2
    assert app.event_log.max_notification_id() is None
    await intake.on_message(inbound("bad \ud800 surrogate"))
    assert intake.recorded == 1
    received = [
        n for n in app.event_log.select_notifications(1, 100) if n.topic.endswith("Received")
    ]
    assert "bad \ufffd surrogate".encode() in received[0].state
    assert b"lone UTF-16 surrogates replaced" in received[0].state


async def test_a_reply_in_doubt_that_is_confirmed_meanwhile_is_recorded_sent_not_resent(
    app: ParleyApp, model: RecordingModel, transport: RecordingTransport, clock: Clock
) -> None:
    from parley.domain.application import ReplyOutcome

    result = app.receive(inbound("got it?"))
    assert result.thread_id is not None
    wa_id = next(iter(app.get_thread(result.thread_id).inbound))
    outcome = ReplyOutcome("Yes", "m", 1.0, None, None, "STOP", "d", False, "")
    app.record_generated(result.thread_id, wa_id, outcome, T0)
    transport.lookup_answer = LookupResult.UNKNOWN  # the crash left the send in doubt
    process = make_process(app, model, transport, clock)
    process.settings = replace(process.settings, unknown_outcome_wait=20.0)
    async with running(process):
        await eventually(lambda: transport.lookups >= 2)
        # The status webhook arrives: the transport now knows it went out.
        reply_id = next(iter(app.get_thread(result.thread_id).replies))
        transport.lookup_answer = None
        from parley.bridge.ports import OutboundMessage

        transport.sent.append(OutboundMessage(reply_id, "491511234567@c.us", "Yes"))
        await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.SENT])
    assert len(transport.sent) == 1
    names = event_names(app, result.thread_id)
    assert "ReplyFailed" not in names


class FailingOnceApp(ParleyApp):
    """The write side losing the database for one save: the one after `fail_after`
    successful saves through `change`."""

    fail_after = 1

    def change(self, aggregate, change):  # type: ignore[no-untyped-def]
        self.fail_after -= 1
        if self.fail_after == -1:
            from eventsourcing.persistence import OperationalError

            raise OperationalError("the database went away")
        return super().change(aggregate, change)


async def test_a_sent_reply_whose_record_failed_is_looked_up_not_sent_again(
    mongo_uri: str,
    database_name: str,
    model: RecordingModel,
    transport: RecordingTransport,
    clock: Clock,
) -> None:
    app = FailingOnceApp(
        env=factory_settings(mongo_uri, database_name), rules=BotRules(quiet_hours={})
    )
    try:
        result = app.receive(inbound("one reply, please"))
        assert result.thread_id is not None
        # Save 1 records the generated reply; save 2 (the sent record) fails once.
        async with running(make_process(app, model, transport, clock)):
            await eventually(lambda: reply_statuses(app, result.thread_id) == [ReplyStatus.SENT])
        assert len(transport.sent) == 1
        assert transport.lookups == 1
        assert event_names(app, result.thread_id).count("ReplySent") == 1
    finally:
        app.close()


async def test_the_checkpoint_reaches_the_last_followed_position_without_reloading_each(
    mongo_uri: str,
    database_name: str,
    model: RecordingModel,
    transport: RecordingTransport,
    clock: Clock,
) -> None:
    class CountingApp(ParleyApp):
        loads = 0

        def get_thread(self, thread_id: UUID):  # type: ignore[no-untyped-def]
            self.loads += 1
            return super().get_thread(thread_id)

    app = CountingApp(
        env=factory_settings(mongo_uri, database_name, MONGODB_POLL_INTERVAL=0.2),
        rules=BotRules(quiet_hours={}),
    )
    try:
        process = make_process(app, model, transport, clock)
        intake = Intake(app, on_recorded=process.nudge)  # type: ignore[arg-type]
        async with running(process):
            for index in range(6):
                await intake.on_message(
                    inbound(f"question {index}", at=T0 + timedelta(seconds=index))
                )
                await eventually(lambda index=index: len(transport.sent) == index + 1)
            followed = [
                n.id
                for n in app.event_log.select_notifications(1, 1000)
                if n.topic.endswith(("MessageReceived", "ReplyGenerated"))
            ]
            await eventually(
                lambda: app.event_log.max_tracking_id(process.checkpoint_name) == followed[-1]
            )
        # Each message was nudged; its two log positions needed no load of their own.
        assert len(followed) == 12
        assert app.loads < len(followed)
    finally:
        app.close()


class SlowTransport(RecordingTransport):
    """Holds each send until released, as a slow network would."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def send_text(self, message: OutboundMessage) -> SendReceipt:
        self.started.set()
        await self.release.wait()
        return await super().send_text(message)


async def test_a_stop_during_a_send_lets_it_finish_and_records_it(
    app: ParleyApp, model: RecordingModel, clock: Clock
) -> None:
    transport = SlowTransport()
    process = make_process(app, model, transport, clock)
    process.settings = replace(process.settings, shutdown_grace=0.05)
    result = app.receive(inbound("Can you confirm Friday?"))
    assert result.thread_id is not None
    stop = asyncio.Event()
    task = asyncio.create_task(process.run(stop))
    await asyncio.wait_for(transport.started.wait(), 30)
    stop.set()  # the pass is cancelled after 50 ms; the send under way is not
    await asyncio.sleep(0.3)
    assert not task.done()  # still waiting for the send
    transport.release.set()
    await asyncio.wait_for(task, 30)
    assert len(transport.sent) == 1
    assert reply_statuses(app, result.thread_id) == [ReplyStatus.SENT]
    assert event_names(app, result.thread_id)[-1] == "ReplySent"
