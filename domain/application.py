"""The write side: commands that load aggregates, decide, and save their events.

Each command saves the events of one decision together (one transaction), and
retries from a fresh load when another writer got there first. Nothing here
reads the clock: times arrive as arguments (an inbound message carries the time
its transport received it).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    LRUCache,
    ProcessingEvent,
    project_aggregate,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Recording
from parley.domain import analysis, ids
from parley.domain.cache_keeper import NewestVersions
from parley.domain.contact import Contact
from parley.domain.conversation import Conversation
from parley.domain.errors import NotFound
from parley.domain.messages import DeliveryUpdate, InboundMessage, MessageKind
from parley.domain.persona import Persona, check_profile, profile_values
from parley.domain.profiles import CustomContext, PersonaProfile, Relationship
from parley.domain.rules import BotRules, intake_withhold_reason
from parley.domain.thread import Thread, ThreadState
from parley.eventstore.recorders import MongoProcessRecorder, UniqueKeyTaken

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
MAX_ATTEMPTS = 20  # concurrent writers to one aggregate retry this often at most


@dataclass(frozen=True)
class IntakeResult:
    duplicate: bool
    thread_id: UUID | None = None
    contact_id: UUID | None = None
    withheld: str = ""  # why this message gets no reply, "" if it may get one


@dataclass(frozen=True)
class ReplyOutcome:
    """What the reply model produced, as the generated-reply event records it."""

    text: str
    model: str
    latency_ms: float
    prompt_tokens: int | None
    response_tokens: int | None
    finish_reason: str
    context_digest: str
    is_fallback: bool
    fallback_reason: str

    def record_on(self, thread: Thread, in_reply_to: str, at: datetime) -> str:
        """Records this reply on the thread; its outbound id, or "" when withheld."""
        return thread.record_generated(
            in_reply_to=in_reply_to,
            text=self.text,
            model=self.model,
            latency_ms=self.latency_ms,
            prompt_tokens=self.prompt_tokens,
            response_tokens=self.response_tokens,
            finish_reason=self.finish_reason,
            context_digest=self.context_digest,
            is_fallback=self.is_fallback,
            fallback_reason=self.fallback_reason,
            generated_at=at,
        )


class ParleyApp(Application[UUID]):
    name = "parley"
    env = {  # noqa: RUF012 - the library reads this class attribute
        "PERSISTENCE_MODULE": "parley.eventstore",
        "AGGREGATE_CACHE_MAXSIZE": "2000",
    }

    def __init__(self, env: dict[str, str] | None = None, rules: BotRules | None = None) -> None:
        super().__init__(env)
        self.rules = rules or BotRules()
        self._newest: NewestVersions | None = None  # set while a CacheKeeper follows the log

    def construct_recorder(self) -> ApplicationRecorder:
        # A process recorder: followers of this log (the reply process) record
        # how far they got in the same store.
        return self.factory.process_recorder()

    @property
    def event_log(self) -> MongoProcessRecorder:
        """The recorder, typed as what it is: the numbered log with tracking."""
        recorder = self.recorder
        assert isinstance(recorder, MongoProcessRecorder)
        return recorder

    # -------------------------------------------------------------- intake

    def receive(self, message: InboundMessage) -> IntakeResult:
        """Records an inbound message once, however often WhatsApp delivers it."""
        key = ids.intake_key(message.account, message.wa_message_id)
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._receive_once(message, key, fresh=attempt > 0)
            except UniqueKeyTaken:
                return IntakeResult(duplicate=True)
            except IntegrityError:
                continue  # another writer moved one of these aggregates on: reload
        msg = f"could not record message {message.wa_message_id}: too much contention"
        raise IntegrityError(msg)

    def _receive_once(self, message: InboundMessage, key: str, *, fresh: bool) -> IntakeResult:
        at = message.received_at
        chat_number = message.chat_id.split("@", 1)[0]
        dirty: list[Any] = []

        counterpart = self._get_or_none(
            Contact, ids.contact_id(message.account, chat_number), fresh=fresh
        )
        if counterpart is None:
            name = "" if message.is_group or message.from_me else message.push_name
            counterpart = Contact(
                account=message.account, number=chat_number, push_name=name, at=at
            )
        elif not message.is_group and not message.from_me:
            counterpart.note_push_name(push_name=message.push_name, at=at)
        relationship = message.extra.get("relationship", "")
        if relationship in Relationship.__members__.values() and not message.from_me:
            counterpart.edit(by="simulator", at=at, relationship=Relationship(relationship))
        dirty.append(counterpart)

        if message.is_group and not message.from_me and message.sender:
            sender = self._get_or_none(
                Contact, ids.contact_id(message.account, message.sender), fresh=fresh
            )
            if sender is None:
                sender = Contact(
                    account=message.account,
                    number=message.sender,
                    push_name=message.push_name,
                    at=at,
                )
            else:
                sender.note_push_name(push_name=message.push_name, at=at)
            dirty.append(sender)

        conversation = self._get_or_none(
            Conversation, ids.conversation_id(message.account, message.chat_id), fresh=fresh
        )
        if conversation is None:
            conversation = Conversation(
                account=message.account,
                chat_id=message.chat_id,
                is_group=message.is_group,
                contact_id=counterpart.id,
                at=at,
            )
        thread = self._current_thread(conversation, at, dirty, fresh=fresh)
        if thread is None:
            previous = conversation.current_thread_id
            number = conversation.thread_count + 1
            thread = Thread(
                account=message.account,
                conversation_id=conversation.id,
                chat_id=message.chat_id,
                contact_id=conversation.contact_id,
                number=number,
                is_group=message.is_group,
                previous_thread_id=previous,
                opened_at=at,
            )
            conversation.open_thread(thread_id=thread.id, number=number, at=at)
        dirty.append(conversation)
        if thread.has_message(message.wa_message_id):
            return IntakeResult(duplicate=True)

        thread.receive(
            wa_message_id=message.wa_message_id,
            sender=message.sender,
            push_name=message.push_name,
            kind=message.kind,
            text=message.text,
            media=_media_dict(message),
            sent_at=message.sent_at,
            received_at=at,
            quoted_message_id=message.quoted_message_id,
            from_me=message.from_me,
            mentions_me=message.mentions_me,
            extra=dict(message.extra),
        )
        processed = self._analyse(thread, message)
        withheld = intake_withhold_reason(
            message,
            rules=self.rules,
            group_enabled=conversation.group_replies_enabled,
            bot_paused=thread.bot_paused,
        )
        if withheld:
            thread.withhold_reply(wa_message_id=message.wa_message_id, reason=withheld, at=at)
        if processed and not message.is_group and not message.from_me:
            recent = [
                turn["text"][: self.rules.max_processed_chars]
                for turn in thread.turns
                if turn["role"] == "user"
            ]
            style = analysis.learn_style(counterpart.learned_style, recent)
            counterpart.learn_style(style=style, at=at)
        dirty.append(thread)
        self.save(*dirty, unique_keys=[key], account=message.account)
        return IntakeResult(
            duplicate=False, thread_id=thread.id, contact_id=counterpart.id, withheld=withheld
        )

    def _current_thread(
        self, conversation: Conversation, at: datetime, dirty: list[Any], *, fresh: bool
    ) -> Thread | None:
        if conversation.current_thread_id is None:
            return None
        thread = self._get(Thread, conversation.current_thread_id, fresh=fresh)
        thread.catch_up_clock(at)
        if thread.state is ThreadState.ARCHIVED:
            dirty.append(thread)  # keep the Archived event of the old thread
            return None
        return thread

    def _analyse(self, thread: Thread, message: InboundMessage) -> str:
        """Records sentiment and topics of the text; returns the text analysed."""
        text = message.text
        cap = self.rules.max_processed_chars
        if len(text) > cap:
            thread.cap_text(wa_message_id=message.wa_message_id, length=len(text), cap=cap)
            text = text[:cap]
        if not text.strip() or message.kind is MessageKind.REACTION:
            return ""
        mood = analysis.sentiment(text)
        thread.assess_sentiment(
            wa_message_id=message.wa_message_id,
            compound=mood.compound,
            label=mood.label,
            analyser=analysis.SENTIMENT_ANALYSER,
        )
        thread.detect_topics(
            wa_message_id=message.wa_message_id,
            topics=analysis.topics(text),
            extractor=analysis.TOPIC_EXTRACTOR,
        )
        return text

    # ------------------------------------------------------------- replies

    def get_thread(self, thread_id: UUID) -> Thread:
        return self._get(Thread, thread_id)

    def get_contact(self, contact_id: UUID) -> Contact:
        return self._get(Contact, contact_id)

    def get_persona(self, account: str) -> Persona | None:
        return self._get_or_none(Persona, ids.persona_id(account))

    def withhold_reply(
        self, thread_id: UUID, wa_message_id: str, reason: str, at: datetime
    ) -> None:
        self._update(
            Thread,
            thread_id,
            lambda t: t.withhold_reply(wa_message_id=wa_message_id, reason=reason, at=at),
        )

    def record_generated(
        self, thread_id: UUID, in_reply_to: str, outcome: ReplyOutcome, at: datetime
    ) -> str:
        """Records a generated reply; returns its outbound id, chosen here, before sending."""
        return self._update(Thread, thread_id, lambda t: outcome.record_on(t, in_reply_to, at))

    def record_sent(
        self, thread_id: UUID, reply_id: str, wa_message_id: str, attempts: int, at: datetime
    ) -> None:
        self._update(
            Thread,
            thread_id,
            lambda t: t.record_sent(
                reply_id=reply_id, wa_message_id=wa_message_id, attempts=attempts, sent_at=at
            ),
        )

    def record_failed(
        self,
        thread_id: UUID,
        reply_id: str,
        *,
        reason: str,
        attempts: int,
        permanent: bool,
        at: datetime,
    ) -> None:
        self._update(
            Thread,
            thread_id,
            lambda t: t.record_failed(
                reply_id=reply_id,
                reason=reason,
                attempts=attempts,
                permanent=permanent,
                failed_at=at,
            ),
        )

    def record_delivery(self, update: DeliveryUpdate) -> bool:
        """Records an acknowledgement of a sent reply; False when no reply matches."""
        conversation = self._get_or_none(
            Conversation, ids.conversation_id(update.account, update.chat_id)
        )
        if conversation is None or conversation.current_thread_id is None:
            return False
        # Acknowledgements trail their message by seconds: look at the current
        # thread and the one before it.
        for number in (conversation.thread_count, conversation.thread_count - 1):
            if number < 1:
                break
            thread_id = ids.thread_id(conversation.id, number)
            if self._update(
                Thread,
                thread_id,
                lambda t: t.record_delivery(
                    wa_message_id=update.wa_message_id, status=update.status, at=update.at
                ),
            ):
                return True
        return False

    def queue_manual_reply(
        self, thread_id: UUID, request_id: str, text: str, by: str, at: datetime
    ) -> str:
        return self._update(
            Thread,
            thread_id,
            lambda t: t.queue_manual_reply(request_id=request_id, text=text, by=by, at=at),
        )

    # ----------------------------------------------------------- operators

    def pause_bot(self, thread_id: UUID, by: str, reason: str, at: datetime) -> None:
        self._update(Thread, thread_id, lambda t: t.pause_bot(by=by, reason=reason, at=at))

    def resume_bot(self, thread_id: UUID, by: str, at: datetime) -> None:
        self._update(Thread, thread_id, lambda t: t.resume_bot(by=by, at=at))

    def sweep_thread(self, thread_id: UUID, now: datetime) -> ThreadState:
        """Records the idle or archive transition of a thread if it fell due."""

        def catch_up(thread: Thread) -> ThreadState:
            thread.catch_up_clock(now)
            return thread.state

        return self._update(Thread, thread_id, catch_up)

    def set_group_replies(
        self, account: str, chat_id: str, enabled: bool, by: str, at: datetime
    ) -> None:
        self._update(
            Conversation,
            ids.conversation_id(account, chat_id),
            lambda c: c.set_group_replies(enabled=enabled, by=by, at=at),
        )

    def edit_contact(
        self,
        contact_id: UUID,
        *,
        by: str,
        at: datetime,
        name: str | None = None,
        preferred_name: str | None = None,
        relationship: Relationship | None = None,
        priority: int | None = None,
        language: str | None = None,
        custom: CustomContext | None = None,
    ) -> Contact:
        def edit(contact: Contact) -> Contact:
            contact.edit(
                by=by,
                at=at,
                name=name,
                preferred_name=preferred_name,
                relationship=relationship,
                priority=priority,
                language=language,
                custom=custom,
            )
            return contact

        return self._update(Contact, contact_id, edit)

    def set_persona(self, account: str, profile: PersonaProfile, by: str, at: datetime) -> Persona:
        """Defines the account's persona, or edits it to match `profile`."""
        check_profile(profile)
        for _ in range(MAX_ATTEMPTS):
            persona = self.get_persona(account)
            if persona is None:
                persona = Persona(account=account, profile=profile_values(profile), by=by, at=at)
            else:
                persona.edit(profile=profile, by=by, at=at)
            try:
                self.save(persona, account=account)
                return persona
            except IntegrityError:
                self._forget(persona.id)  # rare: a full load is fine
                continue
        msg = f"could not save the persona of {account}: too much contention"
        raise IntegrityError(msg)

    # --------------------------------------------------------------- cache

    def trust_cache(self, versions: NewestVersions) -> None:
        """Serves cached aggregates without asking the store for newer events; the
        caller (a `CacheKeeper`) follows the log and reports them to `saw_version`."""
        maxsize = int(self.env.get(self.AGGREGATE_CACHE_MAXSIZE) or 0)
        if maxsize <= 0:
            return  # nothing cached, nothing to trust
        # What the cache holds now was fast-forwarded on load but never updated by
        # saves: start empty.
        self.repository.cache = LRUCache(maxsize=maxsize)
        self._newest = versions
        self.repository.fastforward = False

    def distrust_cache(self) -> None:
        """Back to asking the store for newer events on every load."""
        self.repository.fastforward = True
        self._newest = None

    def saw_version(self, aggregate_id: UUID, version: int) -> None:
        """The log holds `version` of an aggregate: a cached older one is dropped."""
        newest = self._newest
        if newest is None:
            return
        newest.saw(aggregate_id, version)
        cached = self._cached(aggregate_id)
        if cached is not None and cached.version < version:
            self._forget(aggregate_id)

    def _cached(self, aggregate_id: UUID) -> Any | None:
        """The cached aggregate itself (not a copy: only to read), if any."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cache.get(aggregate_id)
        except KeyError:
            return None

    def _forget(self, aggregate_id: UUID) -> None:
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):  # not cached
                cache.get(aggregate_id, evict=True)

    def _caught_up(self, aggregate_id: UUID) -> Any:
        """A copy of the cached aggregate with the events stored since, read by
        one query for those alone: after a conflict on a long thread, rebuilding
        it from its first event would cost the most exactly when the bridge is
        busiest (intake and replies meeting on one thread)."""
        cached = self._cached(aggregate_id)
        if cached is None:
            return self.repository.get(aggregate_id)
        aggregate = deepcopy(cached)
        newer = self.repository.event_store.get(originator_id=aggregate_id, gt=aggregate.version)
        caught_up = project_aggregate(aggregate, newer)
        if caught_up is None:
            raise AggregateNotFoundError(aggregate_id)
        return caught_up

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        recordings = super()._record(processing_event)
        cache = self.repository.cache
        if cache is not None and not self.repository.fastforward:
            # The library caches the saved objects themselves; their callers go on
            # changing them (the reply process keeps its thread), so cache copies.
            for aggregate_id, aggregate in processing_event.aggregates.items():
                cache.put(aggregate_id, deepcopy(aggregate))
        return recordings

    # ------------------------------------------------------------- helpers

    def _get(self, kind: type[A], aggregate_id: UUID, *, fresh: bool = False) -> A:
        found = self._get_or_none(kind, aggregate_id, fresh=fresh)
        if found is None:
            raise NotFound(f"{kind.__name__} {aggregate_id}")
        return found

    def _get_or_none(self, kind: type[A], aggregate_id: UUID, *, fresh: bool = False) -> A | None:
        """The aggregate, or None if it has no events. `fresh`: with every event
        stored (after a conflict), even while the cache is trusted."""
        newest = self._newest
        try:
            if fresh and newest is not None:
                aggregate: Any = self._caught_up(aggregate_id)
            else:
                aggregate = self.repository.get(aggregate_id)
                if newest is not None and newest.newest(aggregate_id) > aggregate.version:
                    # Read from the store just before a commit the log already showed.
                    aggregate = self._caught_up(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{kind.__name__} {aggregate_id}")
        return aggregate

    def _update(self, kind: type[A], aggregate_id: UUID, change: Callable[[A], R]) -> R:
        """Loads, changes and saves one aggregate, retrying on a concurrent write."""
        result, _ = self.change(self._get(kind, aggregate_id), change)
        return result

    def change(self, aggregate: A, change: Callable[[A], R]) -> tuple[R, A]:
        """Applies `change` to an aggregate the caller already holds and saves it.

        When another writer moved the aggregate on meanwhile, reloads it and
        applies the change again. Returns the change's result and the aggregate
        as saved: use that one from then on, not the one passed in.
        """
        kind = type(aggregate)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                aggregate = self._get(kind, aggregate.id, fresh=True)
            result = change(aggregate)
            try:
                self.save(aggregate, account=getattr(aggregate, "account", None))
                return result, aggregate
            except IntegrityError:
                continue
        msg = f"could not update {kind.__name__} {aggregate.id}: too much contention"
        raise IntegrityError(msg)


def _media_dict(message: InboundMessage) -> dict[str, Any] | None:
    if message.media is None:
        return None
    media = message.media
    return {
        "mime_type": media.mime_type,
        "size_bytes": media.size_bytes,
        "file_name": media.file_name,
        "sha256": media.sha256,
        "duration_seconds": media.duration_seconds,
        "width": media.width,
        "height": media.height,
    }
