"""The bridge's aggregate cache: served from memory, kept true by the log.

Two write sides share one database, as the bridge and the API do. The one that
trusts its cache must not read the store for what it saved itself, must see the
other's changes once the log brings them, and must decide again on the stored
aggregate when it wrote on a stale one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from parley.domain.application import ParleyApp, ReplyOutcome
from parley.domain.cache_keeper import CacheKeeper, NewestVersions
from parley.domain.messages import DeliveryStatus, DeliveryUpdate
from parley.domain.profiles import Relationship
from parley.domain.rules import BotRules
from parley.eventstore.factory import factory_settings
from pymongo import monitoring
from testkit.inbound import T0, inbound


class EventReads(monitoring.CommandListener):
    """Counts finds on the event collection of one database (registered once for
    the session: pymongo takes listeners only at client creation)."""

    def __init__(self) -> None:
        self.database = ""
        self.count = 0
        self.documents = 0  # event documents those finds brought back
        self._request_ids: set[int] = set()
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name != "find" or event.database_name != self.database:
            return
        if str(event.command.get("find", "")).endswith("_events"):
            with self._lock:
                self.count += 1
                self._request_ids.add(event.request_id)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        with self._lock:
            if event.request_id in self._request_ids:
                self._request_ids.discard(event.request_id)
                self.documents += len(event.reply.get("cursor", {}).get("firstBatch", []))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


EVENT_READS = EventReads()
monitoring.register(EVENT_READS)


def make_app(mongo_uri: str, database_name: str) -> ParleyApp:
    return ParleyApp(factory_settings(mongo_uri, database_name), rules=BotRules(quiet_hours={}))


@pytest.fixture
def apps(mongo_uri: str, database_name: str) -> Iterator[tuple[ParleyApp, ParleyApp]]:
    """(the bridge's write side, another process's)"""
    EVENT_READS.database = database_name
    bridge, other = make_app(mongo_uri, database_name), make_app(mongo_uri, database_name)
    yield bridge, other
    bridge.close()
    other.close()


@pytest.fixture
def kept(apps: tuple[ParleyApp, ParleyApp]) -> Iterator[ParleyApp]:
    keeper = CacheKeeper(apps[0])
    keeper.start()
    yield apps[0]
    keeper.stop()


def reads_during(work: Callable[[], object]) -> int:
    before = EVENT_READS.count
    work()
    return EVENT_READS.count - before


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def reply(text: str = "Thanks!") -> ReplyOutcome:
    return ReplyOutcome(text, "test-model", 1.0, None, None, "STOP", "digest", False, "")


def test_what_the_bridge_saved_is_loaded_again_without_reading_the_store(
    kept: ParleyApp, apps: tuple[ParleyApp, ParleyApp]
) -> None:
    first = kept.receive(inbound("hello", number="491510000001"))
    assert first.thread_id is not None

    later = inbound("are you there?", number="491510000001", at=T0 + timedelta(minutes=1))
    assert reads_during(lambda: kept.receive(later)) == 0
    assert reads_during(lambda: kept.get_thread(first.thread_id)) == 0  # type: ignore[arg-type]
    pending = kept.get_thread(first.thread_id).pending  # type: ignore[arg-type]
    assert pending[-1] == later.wa_message_id

    # The same work on a write side that asks the store reads on every load.
    _, other = apps
    third = inbound("still there?", number="491510000001", at=T0 + timedelta(minutes=2))
    assert reads_during(lambda: other.receive(third)) >= 3


def test_a_change_made_by_another_process_reaches_the_cache(
    kept: ParleyApp, apps: tuple[ParleyApp, ParleyApp]
) -> None:
    _, other = apps
    result = kept.receive(inbound("hi", number="491510000002"))
    assert result.contact_id is not None
    assert kept.get_contact(result.contact_id).relationship is not Relationship.FAMILY

    other.edit_contact(result.contact_id, by="operator", at=T0, relationship=Relationship.FAMILY)

    assert eventually(
        lambda: kept.get_contact(result.contact_id).relationship is Relationship.FAMILY  # type: ignore[arg-type]
    )


def test_a_write_on_a_stale_aggregate_is_decided_again_on_the_stored_one(
    apps: tuple[ParleyApp, ParleyApp],
) -> None:
    bridge, other = apps
    bridge.trust_cache(NewestVersions())  # trusting, and nobody following the log
    message = inbound("can you call me?", number="491510000003")
    result = bridge.receive(message)
    assert result.thread_id is not None
    bridge.get_thread(result.thread_id)  # cached as saved

    other.withhold_reply(result.thread_id, message.wa_message_id, "operator answers", at=T0)

    # The cached thread still waits for a reply; the save conflicts, the stored
    # thread is loaded and says the message is withheld: no reply is recorded.
    assert bridge.record_generated(result.thread_id, message.wa_message_id, reply(), T0) == ""
    assert bridge.get_thread(result.thread_id).replies == {}


def test_a_conflict_on_a_long_thread_reads_only_the_events_since_the_cached_copy(
    apps: tuple[ParleyApp, ParleyApp],
) -> None:
    bridge, other = apps
    bridge.trust_cache(NewestVersions())
    number = "491510000008"
    for minute in range(10):
        last = inbound("one more thing", number=number, at=T0 + timedelta(minutes=minute))
        thread_id = bridge.receive(last).thread_id
    assert thread_id is not None
    assert bridge.get_thread(thread_id).version > 30
    other.withhold_reply(thread_id, last.wa_message_id, "operator answers", at=T0)

    before = EVENT_READS.documents
    assert bridge.record_generated(thread_id, last.wa_message_id, reply(), T0) == ""
    assert EVENT_READS.documents - before == 1  # the withholding, not the thread's history


def test_a_load_that_raced_the_log_is_read_again(apps: tuple[ParleyApp, ParleyApp]) -> None:
    bridge, other = apps
    versions = NewestVersions()
    bridge.trust_cache(versions)
    result = bridge.receive(inbound("hello", number="491510000004"))
    contact_id = result.contact_id
    assert contact_id is not None
    cached = bridge.get_contact(contact_id)

    edited = other.edit_contact(contact_id, by="operator", at=T0, relationship=Relationship.CLIENT)
    assert bridge.get_contact(contact_id).version == cached.version  # trusted, stale

    versions.saw(contact_id, edited.version)  # the log showed it before the cache had it
    assert bridge.get_contact(contact_id).relationship is Relationship.CLIENT


def test_the_cache_holds_copies_so_a_caller_changing_its_aggregate_changes_nothing_cached(
    apps: tuple[ParleyApp, ParleyApp],
) -> None:
    bridge, _ = apps
    bridge.trust_cache(NewestVersions())
    result = bridge.receive(inbound("hello", number="491510000005"))
    assert result.thread_id is not None
    _, saved = bridge.change(
        bridge.get_thread(result.thread_id), lambda t: t.pause_bot(by="op", reason="", at=T0)
    )

    saved.resume_bot(by="op", at=T0)  # never saved

    assert bridge.get_thread(result.thread_id).bot_paused


def test_losing_the_log_goes_back_to_asking_the_store(
    apps: tuple[ParleyApp, ParleyApp],
) -> None:
    bridge, other = apps
    keeper = CacheKeeper(bridge)
    bridge.trust_cache(keeper.versions)
    result = bridge.receive(inbound("hello", number="491510000006"))
    contact_id = result.contact_id
    assert contact_id is not None
    bridge.get_contact(contact_id)

    def broken_log() -> Iterator[object]:
        raise ConnectionError("the change stream is gone")
        yield  # pragma: no cover - makes this a generator

    keeper._follow(broken_log())  # type: ignore[arg-type]
    other.edit_contact(contact_id, by="operator", at=T0, relationship=Relationship.FRIEND)

    assert bridge.get_contact(contact_id).relationship is Relationship.FRIEND


def test_an_acknowledgement_of_a_sent_reply_is_recorded_without_reading_the_store(
    kept: ParleyApp,
) -> None:
    message = inbound("thanks", number="491510000007")
    thread_id = kept.receive(message).thread_id
    assert thread_id is not None
    reply_id = kept.record_generated(thread_id, message.wa_message_id, reply(), T0)
    kept.record_sent(thread_id, reply_id, "wamid.out-7", attempts=1, at=T0)
    update = DeliveryUpdate("acct", message.chat_id, "wamid.out-7", DeliveryStatus.DELIVERED, T0)

    assert reads_during(lambda: kept.record_delivery(update)) == 0
    assert kept.get_thread(thread_id).replies[reply_id]["delivery"] == "delivered"
