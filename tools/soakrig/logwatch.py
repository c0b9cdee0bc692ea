"""Following the event log from the harness: what Parley recorded for each inbound
message, and when each position was written.

It reads the events collection directly, in bounded windows of the notification
id (the unique index answers those exactly), and decodes only the Thread events
that say what happened to an inbound message. Reading it again from position 1
gives the same picture: that is what the final reconciliation does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley.domain.thread import event_topic
from parley.eventstore.transcoder import OrjsonTranscoder
from pymongo.database import Database

EVENTS = "parley_events"
COUNTERS = "parley_events_counters"
LOG = "main"
WINDOW = 2_000

TOPICS = {
    event_topic(name): name
    for name in (
        "MessageReceived",
        "ReplyWithheld",
        "ReplyGenerated",
        "ReplySent",
        "ReplyFailed",
    )
}


@dataclass(frozen=True)
class Generated:
    reply_id: str
    in_reply_to: str
    latency_ms: float
    is_fallback: bool
    fallback_reason: str
    model: str


@dataclass(frozen=True)
class Failed:
    reply_id: str
    reason: str
    permanent: bool


@dataclass
class LogPicture:
    """What the log says so far, by inbound WhatsApp id and by reply id."""

    position: int = 0  # everything up to here has been read
    received: Counter[str] = field(default_factory=Counter)  # MessageReceived per wamid
    received_at: dict[str, datetime] = field(default_factory=dict)  # the intake's clock
    withheld: dict[str, str] = field(default_factory=dict)  # wamid -> reason
    generated: dict[str, Generated] = field(default_factory=dict)  # by reply id
    reply_of: dict[str, str] = field(default_factory=dict)  # wamid -> reply id
    sent: Counter[str] = field(default_factory=Counter)  # ReplySent per reply id
    sent_wamid: dict[str, str] = field(default_factory=dict)  # reply id -> Graph's wamid
    failed: dict[str, Failed] = field(default_factory=dict)
    recorded_at: list[float] = field(default_factory=lambda: [0.0])  # by position (epoch s)
    topics: Counter[str] = field(default_factory=Counter)  # every event, by class name

    def outcome_count(self) -> int:
        """Inbound messages with a final outcome: withheld, sent or failed."""
        return len(self.withheld) + len(self.sent) + len(self.failed)

    def unsettled(self) -> int:
        return len(self.received) - self.outcome_count()


class LogWatcher:
    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.events = db[EVENTS]
        self.counters = db[COUNTERS]
        self.picture = LogPicture()
        self._transcoder = OrjsonTranscoder()

    def head(self) -> int:
        counter = self.counters.find_one({"_id": LOG})
        return int(counter["value"]) if counter else 0

    def advance(self) -> int:
        """Reads what was written since the last call; returns the head read to."""
        head = self.head()
        picture = self.picture
        while picture.position < head:
            last = min(head, picture.position + WINDOW)
            documents = list(
                self.events.find(
                    {"log": LOG, "notification_id": {"$gte": picture.position + 1, "$lte": last}},
                    {"_id": 0, "notification_id": 1, "topic": 1, "state": 1, "recorded_at": 1},
                )
            )
            documents.sort(key=lambda document: int(document["notification_id"]))
            expected = list(range(picture.position + 1, last + 1))
            if [int(d["notification_id"]) for d in documents] != expected:
                msg = f"the log has a gap or a repeat between {expected[0]} and {last}"
                raise AssertionError(msg)
            for document in documents:
                self._read(document)
            picture.position = last
        return head

    def _read(self, document: dict[str, Any]) -> None:
        picture = self.picture
        recorded: datetime = document["recorded_at"]
        picture.recorded_at.append(recorded.timestamp())
        topic = str(document["topic"])
        picture.topics[topic.rsplit(".", 1)[-1]] += 1
        name = TOPICS.get(topic)
        if name is None:
            return
        state = self._transcoder.decode(bytes(document["state"]))
        if name == "MessageReceived":
            wamid = state["wa_message_id"]
            picture.received[wamid] += 1
            picture.received_at.setdefault(wamid, state["received_at"])
        elif name == "ReplyWithheld":
            picture.withheld[state["wa_message_id"]] = state["reason"]
        elif name == "ReplyGenerated":
            generated = Generated(
                reply_id=state["reply_id"],
                in_reply_to=state["in_reply_to"],
                latency_ms=float(state["latency_ms"]),
                is_fallback=bool(state["is_fallback"]),
                fallback_reason=str(state["fallback_reason"]),
                model=str(state["model"]),
            )
            picture.generated[generated.reply_id] = generated
            if generated.in_reply_to:
                picture.reply_of[generated.in_reply_to] = generated.reply_id
        elif name == "ReplySent":
            picture.sent[state["reply_id"]] += 1
            picture.sent_wamid[state["reply_id"]] = state["wa_message_id"]
        elif name == "ReplyFailed":
            picture.failed[state["reply_id"]] = Failed(
                state["reply_id"], str(state["reason"]), bool(state["permanent"])
            )
