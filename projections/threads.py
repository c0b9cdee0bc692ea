"""`rm_threads`: one document per thread, for the conversation list.

The thread document also keeps what its figures are computed from (the messages
awaiting a reply or a send, for reply latency, and the topic counts), so a
batch writes one document per thread. Bookkeeping in `rmx_threads`:
`contact/<id>` (the contact's name and relationship, copied onto each of its
threads).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from parley.eventstore.datastore import Document
from parley.projections.base import ReadModelProjection
from parley.projections.events import (
    BotPaused,
    BotResumed,
    ContactRegistered,
    MessageReceived,
    ProfileEdited,
    PushNameChanged,
    ReplyFailed,
    ReplyGenerated,
    ReplySent,
    ReplyWithheld,
    SentimentAssessed,
    ThreadArchived,
    ThreadIdled,
    ThreadOpened,
    ThreadResumed,
    TopicsDetected,
)
from parley.projections.ledger import Ledger, latency_ms
from parley.projections.values import stored, utc_ms
from parley.projections.view import CollectionSpec, Index

THREADS = "rm_threads"
STATE = "rmx_threads"
LAST_TEXT = 200  # characters of the last message shown in the list
TREND = 10  # sentiment compounds kept
TOPICS_SHOWN = 10
TOPICS_COUNTED = 100  # distinct topics counted per thread; the rarest, oldest go first
LEDGER = Ledger("awaiting_reply", "awaiting_send")


class ThreadsProjection(ReadModelProjection):
    name = "threads"
    state = STATE
    collections = (
        CollectionSpec(
            THREADS,
            (
                Index((("account", 1), ("last_message_at", -1), ("_id", -1)), "account_recent"),
                Index((("state", 1), ("last_message_at", 1)), "state_due"),
                Index(
                    (("relationship", 1), ("last_message_at", -1), ("_id", -1)),
                    "relationship_recent",
                ),
                Index((("contact_id", 1), ("number", 1)), "contact_threads"),
            ),
        ),
        CollectionSpec(STATE),
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events the thread list does not show change nothing."""

    # --------------------------------------------------------------- thread

    @process_event.register(ThreadOpened)
    def _opened(self, event: Any, tracking: Tracking) -> None:
        contact = self.get(STATE, f"contact/{event.contact_id}")
        opened_at = utc_ms(event.opened_at)
        self.create(
            THREADS,
            {
                "_id": str(event.originator_id),
                "account": event.account,
                "chat_id": event.chat_id,
                "conversation_id": str(event.conversation_id),
                "contact_id": str(event.contact_id),
                "number": event.number,
                "previous_thread_id": stored(event.previous_thread_id),
                "is_group": event.is_group,
                "contact_name": contact["name"] if contact else "",
                "relationship": contact["relationship"] if contact else "unknown",
                "state": "active",
                "bot_paused": False,
                "opened_at": opened_at,
                "last_message_at": opened_at,
                "last_message": None,
                "counts": {
                    "inbound": 0,
                    "replies_generated": 0,
                    "replies_sent": 0,
                    "replies_failed": 0,
                    "fallbacks": 0,
                    "withheld": 0,
                    "manual": 0,
                },
                "unanswered": 0,
                "sentiment": {"last": None, "mean": None, "trend": []},
                "topics": [],
                "last_reply_latency_ms": None,
                "position": tracking.notification_id,
                **LEDGER.empty(),
                "topic_counts": [],
            },
        )

    @process_event.register(MessageReceived)
    def _received(self, event: Any, tracking: Tracking) -> None:
        thread = self._thread(event, tracking)
        received_at = utc_ms(event.received_at)
        if not event.from_me:
            thread["counts"]["inbound"] += 1
        thread["unanswered"] += 1
        thread["last_message_at"] = max(thread["last_message_at"], received_at)
        thread["last_message"] = {
            "direction": "in",
            "text": event.text[:LAST_TEXT],
            "kind": stored(event.kind),
            "at": received_at,
        }
        LEDGER.received(thread, event.wa_message_id, received_at)

    @process_event.register(ReplyWithheld)
    def _withheld(self, event: Any, tracking: Tracking) -> None:
        thread = self._thread(event, tracking)
        thread["counts"]["withheld"] += 1
        thread["unanswered"] -= 1
        LEDGER.withheld(thread, event.wa_message_id)

    @process_event.register(ReplyGenerated)
    def _generated(self, event: Any, tracking: Tracking) -> None:
        thread = self._thread(event, tracking)
        counts = thread["counts"]
        counts["manual" if event.manual else "replies_generated"] += 1
        if event.is_fallback:
            counts["fallbacks"] += 1
        if event.in_reply_to:
            thread["unanswered"] -= 1
            LEDGER.answered(thread, event.in_reply_to, event.reply_id)
        thread["last_message"] = {
            "direction": "out",
            "text": event.text[:LAST_TEXT],
            "kind": "text",
            "at": utc_ms(event.generated_at),
        }

    @process_event.register(ReplySent)
    def _sent(self, event: Any, tracking: Tracking) -> None:
        thread = self._thread(event, tracking)
        thread["counts"]["replies_sent"] += 1
        received_at = LEDGER.settled(thread, event.reply_id)
        if received_at is not None:
            thread["last_reply_latency_ms"] = latency_ms(received_at, utc_ms(event.sent_at))

    @process_event.register(ReplyFailed)
    def _failed(self, event: Any, tracking: Tracking) -> None:
        thread = self._thread(event, tracking)
        thread["counts"]["replies_failed"] += 1
        LEDGER.settled(thread, event.reply_id)

    @process_event.register(SentimentAssessed)
    def _sentiment(self, event: Any, tracking: Tracking) -> None:
        sentiment = self._thread(event, tracking)["sentiment"]
        trend = [*sentiment["trend"], event.compound][-TREND:]
        sentiment.update(last=event.compound, trend=trend, mean=round(sum(trend) / len(trend), 4))

    @process_event.register(TopicsDetected)
    def _topics(self, event: Any, tracking: Tracking) -> None:
        if not event.topics:
            return
        thread = self._thread(event, tracking)
        counted = {topic: [count, last] for topic, count, last in thread["topic_counts"]}
        for topic in event.topics:
            count = counted.get(topic, [0, 0])[0]
            counted[topic] = [count + 1, tracking.notification_id]
        ranked = sorted(counted.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        thread["topic_counts"] = [[t, count, last] for t, (count, last) in ranked][:TOPICS_COUNTED]
        thread["topics"] = [topic for topic, _ in ranked[:TOPICS_SHOWN]]

    @process_event.register(BotPaused)
    def _paused(self, event: Any, tracking: Tracking) -> None:
        self._thread(event, tracking)["bot_paused"] = True

    @process_event.register(BotResumed)
    def _bot_resumed(self, event: Any, tracking: Tracking) -> None:
        self._thread(event, tracking)["bot_paused"] = False

    @process_event.register(ThreadIdled)
    def _idled(self, event: Any, tracking: Tracking) -> None:
        self._thread(event, tracking)["state"] = "idle"

    @process_event.register(ThreadResumed)
    def _resumed(self, event: Any, tracking: Tracking) -> None:
        self._thread(event, tracking)["state"] = "active"

    @process_event.register(ThreadArchived)
    def _archived(self, event: Any, tracking: Tracking) -> None:
        self._thread(event, tracking)["state"] = "archived"

    # -------------------------------------------------------------- contact

    @process_event.register(ContactRegistered)
    def _registered(self, event: Any, tracking: Tracking) -> None:
        self.create(
            STATE,
            {
                "_id": f"contact/{event.originator_id}",
                "name": event.push_name,
                "push_name": event.push_name,
                "relationship": "unknown",
            },
        )

    @process_event.register(PushNameChanged)
    def _push_name(self, event: Any, tracking: Tracking) -> None:
        contact = self._contact(event)
        if contact["name"] == contact["push_name"]:
            contact["name"] = event.push_name
        contact["push_name"] = event.push_name
        self._copy_to_threads(event, contact, tracking)

    @process_event.register(ProfileEdited)
    def _edited(self, event: Any, tracking: Tracking) -> None:
        changes = event.changes
        if "name" not in changes and "relationship" not in changes:
            return
        contact = self._contact(event)
        for key in ("name", "relationship"):
            if key in changes:
                contact[key] = stored(changes[key])
        self._copy_to_threads(event, contact, tracking)

    # -------------------------------------------------------------- helpers

    def _thread(self, event: Any, tracking: Tracking) -> Document:
        thread = self.require(THREADS, str(event.originator_id), tracking)
        thread["position"] = tracking.notification_id
        self.changed(THREADS, thread)
        return thread

    def _contact(self, event: Any) -> Document:
        contact = self.state_doc(
            f"contact/{event.originator_id}", name="", push_name="", relationship="unknown"
        )
        self.changed(STATE, contact)
        return contact

    def _copy_to_threads(self, event: Any, contact: Document, tracking: Tracking) -> None:
        for thread in self.find(THREADS, "contact_id", str(event.originator_id)):
            if (thread["contact_name"], thread["relationship"]) != (
                contact["name"],
                contact["relationship"],
            ):
                thread["contact_name"] = contact["name"]
                thread["relationship"] = contact["relationship"]
                thread["position"] = tracking.notification_id
                self.changed(THREADS, thread)
