"""A thread: one period of one conversation, and everything that happened in it.

A thread is active while messages come, idle after 30 minutes without one, and
archived after 7 days; a message to an archived conversation opens a new thread
linked to this one. Every transition is an event carrying its own time, so a
rebuild never consults the clock. Method bodies here run again on every rebuild:
they only set state from their arguments.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic
from parley.domain import ids
from parley.domain.errors import ThreadArchived, UnknownMessage, UnknownReply
from parley.domain.messages import DeliveryStatus, MessageKind

IDLE_AFTER = timedelta(minutes=30)
ARCHIVE_AFTER = timedelta(days=7)
HISTORY_TURNS = 20  # turns kept for building context without a read model
RATE_WINDOW_KEPT = 50  # reply times kept for the rate guard


class ThreadState(StrEnum):
    ACTIVE = "active"
    IDLE = "idle"
    ARCHIVED = "archived"


class ReplyStatus(StrEnum):
    GENERATED = "generated"
    SENT = "sent"
    FAILED = "failed"


class InboundRecord(TypedDict):
    sender: str
    kind: MessageKind
    text: str
    received_at: datetime
    reply_id: str  # "" until a reply is generated
    withheld: str  # why no reply will be sent, "" if one will


class ReplyRecord(TypedDict):
    in_reply_to: str  # the inbound WhatsApp id, "" for a manual reply
    text: str
    status: ReplyStatus
    attempts: int
    wa_message_id: str
    is_fallback: bool
    manual: bool
    delivery: str  # the newest acknowledgement: "", sent, delivered, read, failed
    generated_at: datetime


class Turn(TypedDict):
    role: str  # "user" or "model"
    text: str
    at: datetime


def _copied(value: Any) -> Any:
    """A container and the records in it copied; values themselves shared."""
    if isinstance(value, dict):
        return {key: dict(item) if isinstance(item, dict) else item for key, item in value.items()}
    if isinstance(value, list):
        return [dict(item) if isinstance(item, dict) else item for item in value]
    return value


class Thread(Aggregate):
    """One period of a conversation with one chat."""

    @staticmethod
    def create_id(conversation_id: UUID, number: int, **_: Any) -> UUID:
        return ids.thread_id(conversation_id, number)

    def __deepcopy__(self, memo: dict[int, Any]) -> Thread:
        """A copy sharing nothing that changes. The application copies a thread on
        every load and save, and `copy.deepcopy` walked every record of a long one.
        Every attribute is a value that is only ever replaced, a list, or a dict
        of records (or a list of dicts) whose values are only ever replaced; so
        copying the containers and their records is a deep copy.
        (tests/domain/test_thread_copy.py keeps that true.)"""
        copied = object.__new__(type(self))
        copied.__dict__.update({name: _copied(value) for name, value in self.__dict__.items()})
        memo[id(self)] = copied
        return copied

    @event("Opened")
    def __init__(
        self,
        *,
        account: str,
        conversation_id: UUID,
        chat_id: str,
        contact_id: UUID,
        number: int,
        is_group: bool,
        previous_thread_id: UUID | None,
        opened_at: datetime,
    ) -> None:
        self.account = account
        self.conversation_id = conversation_id
        self.chat_id = chat_id
        self.contact_id = contact_id
        self.number = number
        self.is_group = is_group
        self.previous_thread_id = previous_thread_id
        self.opened_at = opened_at
        self.state = ThreadState.ACTIVE
        self.last_message_at = opened_at
        self.bot_paused = False
        self.inbound: dict[str, InboundRecord] = {}
        self.pending: list[str] = []  # inbound ids awaiting a reply, oldest first
        self.replies: dict[str, ReplyRecord] = {}
        self.unsent: list[str] = []  # reply ids generated but neither sent nor failed
        self.turns: list[Turn] = []
        self.reply_times: list[datetime] = []

    # ------------------------------------------------------------- queries

    def idle_due_at(self) -> datetime | None:
        return self.last_message_at + IDLE_AFTER if self.state is ThreadState.ACTIVE else None

    def archive_due_at(self) -> datetime | None:
        if self.state is ThreadState.ARCHIVED:
            return None
        return self.last_message_at + ARCHIVE_AFTER

    def has_message(self, wa_message_id: str) -> bool:
        return wa_message_id in self.inbound

    def replies_since(self, since: datetime) -> int:
        return sum(1 for at in self.reply_times if at >= since)

    # ------------------------------------------------------------ commands

    def catch_up_clock(self, now: datetime) -> None:
        """Records the idle or archive transitions that fell due before `now`."""
        idle_at = self.idle_due_at()
        if idle_at is not None and idle_at <= now:
            self._idle(at=idle_at)
        archive_at = self.archive_due_at()
        if archive_at is not None and archive_at <= now:
            self._archive(at=archive_at)

    def receive(
        self,
        *,
        wa_message_id: str,
        sender: str,
        push_name: str,
        kind: MessageKind,
        text: str,
        media: dict[str, Any] | None,
        sent_at: datetime,
        received_at: datetime,
        quoted_message_id: str,
        from_me: bool,
        mentions_me: bool,
        extra: dict[str, str],
    ) -> None:
        if self.state is ThreadState.ARCHIVED:
            raise ThreadArchived(str(self.id))
        if self.state is ThreadState.IDLE:
            self._resume(at=received_at)
        self._receive(
            account=self.account,
            wa_message_id=wa_message_id,
            chat_id=self.chat_id,
            sender=sender,
            push_name=push_name,
            kind=kind,
            text=text,
            media=media,
            sent_at=sent_at,
            received_at=received_at,
            quoted_message_id=quoted_message_id,
            is_group=self.is_group,
            from_me=from_me,
            mentions_me=mentions_me,
            extra=extra,
        )

    @event("MessageReceived")
    def _receive(
        self,
        *,
        account: str,
        wa_message_id: str,
        chat_id: str,
        sender: str,
        push_name: str,
        kind: MessageKind,
        text: str,
        media: dict[str, Any] | None,
        sent_at: datetime,
        received_at: datetime,
        quoted_message_id: str,
        is_group: bool,
        from_me: bool,
        mentions_me: bool,
        extra: dict[str, str],
    ) -> None:
        self.inbound[wa_message_id] = InboundRecord(
            sender=sender,
            kind=kind,
            text=text,
            received_at=received_at,
            reply_id="",
            withheld="",
        )
        self.pending.append(wa_message_id)
        self.last_message_at = max(self.last_message_at, received_at)
        self._add_turn("model" if from_me else "user", text, received_at)

    @event("TextCapped")
    def cap_text(self, *, wa_message_id: str, length: int, cap: int) -> None:
        """Only the first `cap` characters of a long text are analysed and sent on."""

    @event("SentimentAssessed")
    def assess_sentiment(
        self, *, wa_message_id: str, compound: float, label: str, analyser: str
    ) -> None:
        pass

    @event("TopicsDetected")
    def detect_topics(self, *, wa_message_id: str, topics: list[str], extractor: str) -> None:
        pass

    def withhold_reply(self, *, wa_message_id: str, reason: str, at: datetime) -> None:
        self._require_message(wa_message_id)
        if wa_message_id in self.pending:
            self._withhold(account=self.account, wa_message_id=wa_message_id, reason=reason, at=at)

    @event("ReplyWithheld")
    def _withhold(self, *, account: str, wa_message_id: str, reason: str, at: datetime) -> None:
        self.inbound[wa_message_id]["withheld"] = reason
        self.pending.remove(wa_message_id)

    def record_generated(
        self,
        *,
        in_reply_to: str,
        text: str,
        model: str,
        latency_ms: float,
        prompt_tokens: int | None,
        response_tokens: int | None,
        finish_reason: str,
        context_digest: str,
        is_fallback: bool,
        fallback_reason: str,
        generated_at: datetime,
    ) -> str:
        """Records the reply to one inbound; returns its outbound id (idempotent)."""
        record = self._require_message(in_reply_to)
        if record["reply_id"] or record["withheld"]:
            return record["reply_id"]
        reply = ids.reply_id(self.id, in_reply_to)
        self._generated(
            account=self.account,
            reply_id=reply,
            in_reply_to=in_reply_to,
            chat_id=self.chat_id,
            text=text,
            model=model,
            latency_ms=latency_ms,
            prompt_tokens=prompt_tokens,
            response_tokens=response_tokens,
            finish_reason=finish_reason,
            context_digest=context_digest,
            is_fallback=is_fallback,
            fallback_reason=fallback_reason,
            manual=False,
            generated_at=generated_at,
        )
        return reply

    def queue_manual_reply(self, *, request_id: str, text: str, by: str, at: datetime) -> str:
        """An operator's own reply, sent through the same path as generated ones."""
        reply = ids.manual_reply_id(self.id, request_id)
        if reply not in self.replies:
            self._generated(
                account=self.account,
                reply_id=reply,
                in_reply_to="",
                chat_id=self.chat_id,
                text=text,
                model=f"manual:{by}",
                latency_ms=0.0,
                prompt_tokens=None,
                response_tokens=None,
                finish_reason="",
                context_digest="",
                is_fallback=False,
                fallback_reason="",
                manual=True,
                generated_at=at,
            )
        return reply

    @event("ReplyGenerated")
    def _generated(
        self,
        *,
        account: str,
        reply_id: str,
        in_reply_to: str,
        chat_id: str,
        text: str,
        model: str,
        latency_ms: float,
        prompt_tokens: int | None,
        response_tokens: int | None,
        finish_reason: str,
        context_digest: str,
        is_fallback: bool,
        fallback_reason: str,
        manual: bool,
        generated_at: datetime,
    ) -> None:
        self.replies[reply_id] = ReplyRecord(
            in_reply_to=in_reply_to,
            text=text,
            status=ReplyStatus.GENERATED,
            attempts=0,
            wa_message_id="",
            is_fallback=is_fallback,
            manual=manual,
            delivery="",
            generated_at=generated_at,
        )
        self.unsent.append(reply_id)
        if in_reply_to:
            self.inbound[in_reply_to]["reply_id"] = reply_id
            if in_reply_to in self.pending:
                self.pending.remove(in_reply_to)
            self.reply_times = [*self.reply_times, generated_at][-RATE_WINDOW_KEPT:]
        self._add_turn("model", text, generated_at)

    def record_sent(
        self, *, reply_id: str, wa_message_id: str, attempts: int, sent_at: datetime
    ) -> None:
        if self._require_reply(reply_id)["status"] is ReplyStatus.GENERATED:
            self._sent(
                account=self.account,
                reply_id=reply_id,
                chat_id=self.chat_id,
                wa_message_id=wa_message_id,
                attempts=attempts,
                sent_at=sent_at,
            )

    @event("ReplySent")
    def _sent(
        self,
        *,
        account: str,
        reply_id: str,
        chat_id: str,
        wa_message_id: str,
        attempts: int,
        sent_at: datetime,
    ) -> None:
        reply = self.replies[reply_id]
        reply["status"] = ReplyStatus.SENT
        reply["wa_message_id"] = wa_message_id
        reply["attempts"] = attempts
        # WhatsApp took it: its own "sent" acknowledgement would say nothing more.
        reply["delivery"] = DeliveryStatus.SENT.value
        self.unsent.remove(reply_id)

    def record_failed(
        self, *, reply_id: str, reason: str, attempts: int, permanent: bool, failed_at: datetime
    ) -> None:
        if self._require_reply(reply_id)["status"] is ReplyStatus.GENERATED:
            self._failed(
                account=self.account,
                reply_id=reply_id,
                chat_id=self.chat_id,
                reason=reason,
                attempts=attempts,
                permanent=permanent,
                failed_at=failed_at,
            )

    @event("ReplyFailed")
    def _failed(
        self,
        *,
        account: str,
        reply_id: str,
        chat_id: str,
        reason: str,
        attempts: int,
        permanent: bool,
        failed_at: datetime,
    ) -> None:
        reply = self.replies[reply_id]
        reply["status"] = ReplyStatus.FAILED
        reply["attempts"] = attempts
        self.unsent.remove(reply_id)

    def record_delivery(self, *, wa_message_id: str, status: DeliveryStatus, at: datetime) -> bool:
        """Records WhatsApp's acknowledgement of a sent reply; False if not ours."""
        for reply_id, reply in self.replies.items():
            if reply["wa_message_id"] == wa_message_id:
                if reply["delivery"] != status.value:
                    self._delivery(
                        account=self.account,
                        reply_id=reply_id,
                        wa_message_id=wa_message_id,
                        status=status,
                        at=at,
                    )
                return True
        return False

    @event("DeliveryUpdated")
    def _delivery(
        self,
        *,
        account: str,
        reply_id: str,
        wa_message_id: str,
        status: DeliveryStatus,
        at: datetime,
    ) -> None:
        self.replies[reply_id]["delivery"] = status.value

    def pause_bot(self, *, by: str, reason: str, at: datetime) -> None:
        if not self.bot_paused:
            self._paused(account=self.account, by=by, reason=reason, at=at)

    @event("BotPaused")
    def _paused(self, *, account: str, by: str, reason: str, at: datetime) -> None:
        self.bot_paused = True

    def resume_bot(self, *, by: str, at: datetime) -> None:
        if self.bot_paused:
            self._bot_resumed(account=self.account, by=by, at=at)

    @event("BotResumed")
    def _bot_resumed(self, *, account: str, by: str, at: datetime) -> None:
        self.bot_paused = False

    @event("Idled")
    def _idle(self, *, at: datetime) -> None:
        self.state = ThreadState.IDLE

    @event("Resumed")
    def _resume(self, *, at: datetime) -> None:
        self.state = ThreadState.ACTIVE

    @event("Archived")
    def _archive(self, *, at: datetime) -> None:
        self.state = ThreadState.ARCHIVED

    # ------------------------------------------------------------- helpers

    def _add_turn(self, role: str, text: str, at: datetime) -> None:
        self.turns = [*self.turns, Turn(role=role, text=text, at=at)][-HISTORY_TURNS:]

    def _require_message(self, wa_message_id: str) -> InboundRecord:
        try:
            return self.inbound[wa_message_id]
        except KeyError:
            raise UnknownMessage(wa_message_id) from None

    def _require_reply(self, reply_id: str) -> ReplyRecord:
        try:
            return self.replies[reply_id]
        except KeyError:
            raise UnknownReply(reply_id) from None


def event_topic(event_name: str) -> str:
    """The stored topic of one of Thread's events (the library makes the classes)."""
    return get_topic(getattr(Thread, event_name))
