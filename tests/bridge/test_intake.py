"""The intake under redelivery and load: work begun is finished even when the
transport stops waiting, a redelivery joins the delivery in flight instead of
recording again, and no more than a few records run at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from parley.bridge.intake import Intake
from parley.domain.application import IntakeResult, ParleyApp
from parley.domain.messages import InboundMessage
from parley.domain.rules import BotRules
from parley.eventstore.factory import factory_settings
from testkit.inbound import inbound


class CountingApp(ParleyApp):
    """The real write side, counting the records it is asked for, and slowed down
    so that deliveries overlap."""

    def __init__(self, env: dict[str, str], delay: float) -> None:
        super().__init__(env=env, rules=BotRules(quiet_hours={}))
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.most_running = 0
        self._guard = threading.Lock()

    def receive(self, message: InboundMessage) -> IntakeResult:
        with self._guard:
            self.calls += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(self.delay)
            return super().receive(message)
        finally:
            with self._guard:
                self.running -= 1


@pytest.fixture
def slow_app(mongo_uri: str, database_name: str) -> Iterator[CountingApp]:
    app = CountingApp(factory_settings(mongo_uri, database_name), delay=0.3)
    yield app
    app.close()


def received_count(app: ParleyApp) -> int:
    page = app.event_log.select_notifications(1, 1000)
    return sum(1 for n in page if n.topic.endswith("MessageReceived"))


async def test_a_redelivery_during_the_first_delivery_waits_for_it_and_records_nothing(
    slow_app: CountingApp,
) -> None:
    recorded: list[Any] = []
    intake = Intake(slow_app, on_recorded=recorded.append)
    message = inbound("are you open on Sunday?")

    await asyncio.gather(*(intake.on_message(message) for _ in range(3)))

    assert slow_app.calls == 1
    assert (intake.recorded, intake.duplicates) == (1, 2)
    assert len(recorded) == 1
    assert received_count(slow_app) == 1


async def test_work_begun_finishes_when_the_transport_stops_waiting(
    slow_app: CountingApp,
) -> None:
    recorded: list[Any] = []
    intake = Intake(slow_app, on_recorded=recorded.append)
    message = inbound("a webhook that timed out")

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):  # the transport answers 503 at this point
            await intake.on_message(message)
    await intake.on_message(message)  # Meta's retry: joins the record in flight

    assert slow_app.calls == 1
    assert len(recorded) == 1
    assert received_count(slow_app) == 1
    await intake.on_message(message)  # a later retry: remembered, no record at all
    assert slow_app.calls == 1
    assert intake.duplicates == 2


async def test_no_more_records_run_at_once_than_allowed(slow_app: CountingApp) -> None:
    slow_app.delay = 0.05
    intake = Intake(slow_app, on_recorded=lambda _: None, max_concurrent=3)
    messages = [inbound(f"message {index}", number=f"49151{index:07d}") for index in range(12)]

    await asyncio.gather(*(intake.on_message(message) for message in messages))

    assert intake.recorded == 12
    assert 1 <= slow_app.most_running <= 3
    assert received_count(slow_app) == 12


async def test_a_redelivery_after_a_restart_is_caught_by_the_write_side(
    slow_app: CountingApp, mongo_uri: str, database_name: str
) -> None:
    message = inbound("hello again")
    await Intake(slow_app, on_recorded=lambda _: None).on_message(message)
    fresh = Intake(slow_app, on_recorded=lambda _: None)  # a new process remembers nothing

    await fresh.on_message(message)

    assert (fresh.recorded, fresh.duplicates) == (0, 1)
    assert received_count(slow_app) == 1
