"""A realistic, deterministic event history, written through the write side.

`write_history(app, events=5000, conversations=100, seed=7)` drives
`ParleyApp` the way the bridge and an operator would: people write in bursts,
some in groups, some send media, reactions or very long texts; WhatsApp
redelivers a message now and then; replies are generated (some as fallbacks),
sent and acknowledged, or fail; an operator pauses a thread, edits contacts,
answers by hand and changes the persona; conversations go idle and get archived,
and the next message opens a new thread. Time comes from a simulated clock, so
the same seed always writes the same events (only the library's `timestamp`
and the store's `recorded_at` metadata differ between runs).

Used by the tests (through `testkit.history`) and by `tools/bench/projector.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from parley.domain import ids
from parley.domain.application import ParleyApp, ReplyOutcome
from parley.domain.messages import (
    DeliveryStatus,
    DeliveryUpdate,
    InboundMessage,
    MediaInfo,
    MessageKind,
)
from parley.domain.profiles import CustomContext, PersonaProfile, Relationship
from parley.domain.thread import ThreadState
from parley.eventstore.recorders import MongoApplicationRecorder

START = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)
FIRST_NAMES = (
    "Ana", "Bruno", "Carla", "Dieter", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kemal", "Lena", "Marta", "Nico", "Olga", "Paulo", "Quentin", "Rita", "Sven", "Tania",
)  # fmt: skip
SURNAMES = ("Souza", "Becker", "Silva", "Kaya", "Novak", "Rossi", "Meyer", "Costa", "Haas")
PHRASES = (
    "Are we still on for Friday?",
    "Can you send me the invoice for March, please?",
    "haha ok see u later 😂",
    "Thanks a lot, that was really helpful!",
    "This is the third time the delivery is late. I am not happy at all.",
    "Bom dia! Tudo bem? Queria marcar uma reunião para a próxima semana.",
    "Kannst du mich morgen früh anrufen?",
    "lol yes 👍👍",
    "Dear Sir, kindly confirm the appointment on Tuesday at 10:00.",
    "The kids loved the gift ❤️ thank you so much",
    "Is the price still 40 euros per hour?",
    "I need this urgently, the server is down!!",
    "What time does the shop open on Saturday?",
    "ok",
    "Could you please share the project status before the meeting?",
    "happy birthday!!! 🎉🎂",
    "Terrible service, I want a refund.",
    "See you at the train station 🚉",
)
REPLIES = (
    "Sure, see you then!",
    "I'll pass this on and get back to you shortly.",
    "Thank you for your message. The owner will confirm the details soon.",
    "Happy to help 🙂",
    "Sorry to hear that. I will make sure this is looked into today.",
)
MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite")


@dataclass
class Person:
    number: str
    name: str
    relationship: Relationship
    group: str = ""  # a group chat id, for a group conversation
    members: tuple[str, ...] = ()
    weight: float = 1.0

    @property
    def chat_id(self) -> str:
        return self.group or f"{self.number}@c.us"


@dataclass
class HistoryReport:
    account: str
    events: int  # the log position after the last event written
    chats: list[str]
    thread_ids: set[UUID] = field(default_factory=set)
    contact_ids: set[UUID] = field(default_factory=set)
    inbound: int = 0
    duplicates: int = 0
    replies: int = 0
    started_at: datetime = START
    ended_at: datetime = START


class HistoryWriter:
    """Writes a history through `app`, deterministically from `seed`."""

    def __init__(
        self,
        app: ParleyApp,
        *,
        conversations: int = 100,
        seed: int = 7,
        account: str = "default",
        start: datetime = START,
    ) -> None:
        if conversations < 1:
            msg = "a history needs at least one conversation"
            raise ValueError(msg)
        recorder = app.recorder
        assert isinstance(recorder, MongoApplicationRecorder)
        self.app = app
        self.recorder = recorder
        self.rng = random.Random(seed)
        self.seed = seed
        self.account = account
        self.now = start
        self.people = self._people(conversations)
        self.report = HistoryReport(account, 0, [p.chat_id for p in self.people], started_at=start)
        self._sent = 0
        self._paused: set[UUID] = set()
        self._current: dict[str, UUID] = {}
        self._unmet = list(self.people)
        self.rng.shuffle(self._unmet)

    def write(self, events: int, on_progress: Callable[[int], None] | None = None) -> HistoryReport:
        """Writes until the log holds at least `events` events."""
        self.app.set_persona(
            self.account,
            PersonaProfile(name="Parley", owner_name="Sam", organisation="Sam's Studio"),
            by="owner",
            at=self.now,
        )
        position = self.recorder.max_notification_id() or 0
        halfway_done = False
        while position < events:
            self._burst()
            position = self.recorder.max_notification_id() or 0
            if not halfway_done and position >= events // 2:
                halfway_done = True
                self.app.set_persona(
                    self.account,
                    PersonaProfile(
                        name="Parley",
                        owner_name="Sam",
                        organisation="Sam's Studio",
                        services=("design", "printing"),
                        tone="warm and brief",
                    ),
                    by="owner",
                    at=self.now,
                )
            if on_progress is not None:
                on_progress(position)
        self.report.events = self.recorder.max_notification_id() or 0
        self.report.ended_at = self.now
        return self.report

    # ------------------------------------------------------------- people

    def _people(self, count: int) -> list[Person]:
        people: list[Person] = []
        relationships = list(Relationship)
        for index in range(count):
            name = f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {self.rng.choice(SURNAMES)}"
            number = f"49151{self.seed % 100:02d}{index:05d}"
            person = Person(
                number, name, self.rng.choice(relationships), weight=self.rng.choice((1, 1, 2, 5))
            )
            if index % 10 == 9 and people:
                members = tuple(self.rng.sample([p.number for p in people], min(3, len(people))))
                person = Person(
                    number,
                    f"Group {index}",
                    Relationship.UNKNOWN,
                    group=f"1203630{self.seed % 100:02d}{index:05d}@g.us",
                    members=members,
                )
            people.append(person)
        return people

    # ------------------------------------------------------------- writing

    def _burst(self) -> None:
        rng = self.rng
        if self._unmet:
            person = self._unmet.pop()  # everyone writes at least once
        else:
            person = rng.choices(self.people, weights=[p.weight for p in self.people])[0]
        gap = rng.expovariate(1 / 900)
        if rng.random() < 0.08:
            gap += 45 * 60  # long enough for the thread to go idle
        if rng.random() < 0.01:
            gap += 8 * 24 * 3600  # long enough for every thread to be archived
        self.now += timedelta(seconds=gap)
        if rng.random() < 0.04:
            self._sweep_someone()
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            self.now += timedelta(seconds=rng.uniform(2, 60))
            self._message(person)
        if rng.random() < 0.03:
            self._operator(person)

    def _message(self, person: Person) -> None:
        rng = self.rng
        self._sent += 1
        message = self._inbound(person, f"wamid.{self.seed}.{self._sent:07d}")
        result = self.app.receive(message)
        if rng.random() < 0.02:
            assert self.app.receive(message).duplicate  # WhatsApp delivering it twice
            self.report.duplicates += 1
        if result.duplicate or result.thread_id is None:
            return
        self.report.inbound += 1
        self.report.thread_ids.add(result.thread_id)
        self._current[person.chat_id] = result.thread_id
        if result.contact_id is not None:
            self.report.contact_ids.add(result.contact_id)
        if result.withheld:
            return
        draw = rng.random()
        if draw < 0.05:
            return  # no reply yet: the bridge was down
        if draw < 0.08:
            self.app.withhold_reply(
                result.thread_id, message.wa_message_id, "quiet hours (client)", self.now
            )
            return
        self._reply(person, result.thread_id, message)

    def _inbound(self, person: Person, wa_message_id: str) -> InboundMessage:
        rng = self.rng
        draw = rng.random()
        kind, text, media, quoted = MessageKind.TEXT, rng.choice(PHRASES), None, ""
        extra: dict[str, str] = {}
        if draw < 0.05:
            kind, media = MessageKind.IMAGE, MediaInfo("image/jpeg", 48_213, width=800, height=600)
            text = rng.choice(("look at this", ""))
        elif draw < 0.08:
            kind, text, quoted = (
                MessageKind.REACTION,
                "👍",
                f"wamid.{self.seed}.{self._sent - 1:07d}",
            )
        elif draw < 0.10:
            kind, text = MessageKind.AUDIO, ""
            media = MediaInfo("audio/ogg", 9_102, duration_seconds=7.5)
        elif draw < 0.11:
            text = "Let me explain everything from the start. " * 120  # over the cap
        if self._sent % 97 == 0:
            extra["relationship"] = person.relationship.value
        sender, push_name, from_me = person.number, person.name.split()[0], False
        if person.group:
            sender = rng.choice(person.members)
            push_name = f"Member {sender[-3:]}"
        elif rng.random() < 0.03:
            sender, push_name, from_me = "", "", True  # the owner writing from their phone
        return InboundMessage(
            account=self.account,
            wa_message_id=wa_message_id,
            chat_id=person.chat_id,
            sender=sender,
            push_name=push_name,
            kind=kind,
            text=text,
            sent_at=self.now - timedelta(seconds=rng.uniform(0.2, 3)),
            received_at=self.now,
            is_group=bool(person.group),
            from_me=from_me,
            mentions_me=bool(person.group) and rng.random() < 0.4,
            quoted_message_id=quoted,
            media=media,
            extra=extra,
        )

    def _reply(self, person: Person, thread_id: UUID, message: InboundMessage) -> None:
        rng = self.rng
        fallback = rng.random() < 0.07
        latency = rng.uniform(300, 6_000)
        generated_at = self.now + timedelta(milliseconds=latency)
        outcome = ReplyOutcome(
            text=rng.choice(REPLIES),
            model="fallback" if fallback else rng.choice(MODELS),
            latency_ms=round(latency, 1),
            prompt_tokens=None if fallback else rng.randint(300, 1_500),
            response_tokens=None if fallback else rng.randint(10, 120),
            finish_reason="" if fallback else "STOP",
            context_digest=f"{rng.getrandbits(64):016x}",
            is_fallback=fallback,
            fallback_reason="circuit open" if fallback else "",
        )
        reply_id = self.app.record_generated(
            thread_id, message.wa_message_id, outcome, generated_at
        )
        self.report.replies += 1
        self._deliver(person, thread_id, reply_id, generated_at)

    def _deliver(
        self, person: Person, thread_id: UUID, reply_id: str, generated_at: datetime
    ) -> None:
        rng = self.rng
        sent_at = generated_at + timedelta(milliseconds=rng.uniform(100, 2_500))
        if rng.random() < 0.05:
            self.app.record_failed(
                thread_id,
                reply_id,
                reason="transport unavailable",
                attempts=3,
                permanent=rng.random() < 0.5,
                at=sent_at,
            )
            return
        wa_id = f"out.{reply_id[:8]}.{rng.getrandbits(32):08x}"
        self.app.record_sent(thread_id, reply_id, wa_id, attempts=1, at=sent_at)
        statuses = (DeliveryStatus.DELIVERED, DeliveryStatus.READ)
        for step, status in enumerate(statuses[: rng.choice((0, 1, 2, 2))]):
            self.app.record_delivery(
                DeliveryUpdate(
                    self.account,
                    person.chat_id,
                    wa_id,
                    status,
                    sent_at + timedelta(seconds=5 * (step + 1)),
                )
            )

    def _operator(self, person: Person) -> None:
        rng = self.rng
        thread_id = self._current.get(person.chat_id)
        if thread_id is None:
            return
        self.now += timedelta(seconds=30)
        draw = rng.random()
        if draw < 0.3:
            if thread_id in self._paused:
                self.app.resume_bot(thread_id, by="operator", at=self.now)
                self._paused.discard(thread_id)
            elif self.app.get_thread(thread_id).state is not ThreadState.ARCHIVED:
                self.app.pause_bot(thread_id, by="operator", reason="taking over", at=self.now)
                self._paused.add(thread_id)
        elif draw < 0.7:
            contact_id = ids.contact_id(self.account, person.chat_id.split("@", 1)[0])
            self.app.edit_contact(
                contact_id,
                by="operator",
                at=self.now,
                name=f"{person.name} ({rng.choice(('work', 'home', 'gym'))})",
                relationship=rng.choice(list(Relationship)),
                language=rng.choice(("en", "pt-BR", "de")),
                custom=CustomContext(
                    personality=rng.choice(("cheerful", "direct", "")),
                    topics=tuple(rng.sample(("football", "design", "kids", "travel"), 2)),
                    emoji_preference=rng.choice(("", "none", "some", "lots")),
                ),
            )
        elif self.app.get_thread(thread_id).state is not ThreadState.ARCHIVED:
            reply_id = self.app.queue_manual_reply(
                thread_id, f"req-{self._sent}", "I'll call you in five minutes.", "sam", self.now
            )
            self._deliver(person, thread_id, reply_id, self.now)

    def _sweep_someone(self) -> None:
        if not self._current:
            return
        chat_id = self.rng.choice(sorted(self._current))
        self.app.sweep_thread(self._current[chat_id], self.now)


def write_history(
    app: ParleyApp,
    *,
    events: int = 5_000,
    conversations: int = 100,
    seed: int = 7,
    account: str = "default",
    on_progress: Callable[[int], None] | None = None,
) -> HistoryReport:
    """Writes a history of at least `events` events over `conversations` chats."""
    writer = HistoryWriter(app, conversations=conversations, seed=seed, account=account)
    return writer.write(events, on_progress)
