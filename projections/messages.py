"""`rm_messages`: every message of every thread, inbound and outbound, in log order.

Bookkeeping in `rmx_messages`: `conversation/<id>` (the conversation's contact,
from `Conversation.Started`, stamped on each message). The events that create a
message carry its account and chat, which name the conversation.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from parley.domain import ids
from parley.eventstore.datastore import Document
from parley.projections.base import ReadModelProjection
from parley.projections.events import (
    ConversationStarted,
    DeliveryUpdated,
    MessageReceived,
    ReplyFailed,
    ReplyGenerated,
    ReplySent,
    ReplyWithheld,
    SentimentAssessed,
    TextCapped,
    TopicsDetected,
)
from parley.projections.values import stored, utc_ms
from parley.projections.view import CollectionSpec, Index

MESSAGES = "rm_messages"
STATE = "rmx_messages"


def inbound_id(thread_id: str, wa_message_id: str) -> str:
    return f"{thread_id}/in/{wa_message_id}"


def outbound_id(thread_id: str, reply_id: str) -> str:
    return f"{thread_id}/out/{reply_id}"


class MessagesProjection(ReadModelProjection):
    name = "messages"
    state = STATE
    collections = (
        CollectionSpec(
            MESSAGES,
            (
                Index((("thread_id", 1), ("seq", 1)), "thread_timeline"),
                Index((("conversation_id", 1), ("seq", 1)), "conversation_timeline"),
            ),
            # One document per message, changed again only while its reply is
            # sent and acknowledged: keep the last few hundred, not thousands.
            cache_limit=500,
        ),
        CollectionSpec(STATE),
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events that are not about a message change nothing."""

    @process_event.register(ConversationStarted)
    def _started(self, event: Any, tracking: Tracking) -> None:
        self.create(
            STATE,
            {"_id": f"conversation/{event.originator_id}", "contact_id": str(event.contact_id)},
        )

    @process_event.register(MessageReceived)
    def _received(self, event: Any, tracking: Tracking) -> None:
        thread_id = str(event.originator_id)
        self.create(
            MESSAGES,
            {
                "_id": inbound_id(thread_id, event.wa_message_id),
                **self._thread_fields(event, tracking),
                "seq": tracking.notification_id,
                "direction": "in",
                "at": utc_ms(event.received_at),
                "kind": stored(event.kind),
                "text": event.text,
                "sender": event.sender,
                "push_name": event.push_name,
                "media": stored(event.media),
                "quoted_message_id": event.quoted_message_id,
                "from_me": event.from_me,
                "sentiment": None,
                "topics": [],
                "withheld": "",
                "text_capped": None,
            },
        )

    @process_event.register(TextCapped)
    def _capped(self, event: Any, tracking: Tracking) -> None:
        self._inbound(event, tracking)["text_capped"] = {"length": event.length, "cap": event.cap}

    @process_event.register(SentimentAssessed)
    def _sentiment(self, event: Any, tracking: Tracking) -> None:
        message = self._inbound(event, tracking)
        message["sentiment"] = {"compound": event.compound, "label": event.label}

    @process_event.register(TopicsDetected)
    def _topics(self, event: Any, tracking: Tracking) -> None:
        self._inbound(event, tracking)["topics"] = list(event.topics)

    @process_event.register(ReplyWithheld)
    def _withheld(self, event: Any, tracking: Tracking) -> None:
        self._inbound(event, tracking)["withheld"] = event.reason

    @process_event.register(ReplyGenerated)
    def _generated(self, event: Any, tracking: Tracking) -> None:
        thread_id = str(event.originator_id)
        self.create(
            MESSAGES,
            {
                "_id": outbound_id(thread_id, event.reply_id),
                **self._thread_fields(event, tracking),
                "seq": tracking.notification_id,
                "direction": "out",
                "at": utc_ms(event.generated_at),
                "text": event.text,
                "reply_id": event.reply_id,
                "in_reply_to": event.in_reply_to,
                "manual": event.manual,
                "reply_status": "generated",
                "is_fallback": event.is_fallback,
                "fallback_reason": event.fallback_reason,
                "failure_reason": "",
                "attempts": 0,
                "model": event.model,
                "latency_ms": event.latency_ms,
                "prompt_tokens": event.prompt_tokens,
                "response_tokens": event.response_tokens,
                "finish_reason": event.finish_reason,
                "context_digest": event.context_digest,
                "wa_message_id": "",
                "sent_at": None,
                "delivery": "",
            },
        )

    @process_event.register(ReplySent)
    def _sent(self, event: Any, tracking: Tracking) -> None:
        message = self._outbound(event, tracking)
        message.update(
            reply_status="sent",
            wa_message_id=event.wa_message_id,
            attempts=event.attempts,
            sent_at=utc_ms(event.sent_at),
            delivery="sent",  # as the thread has it: WhatsApp took the message
        )

    @process_event.register(ReplyFailed)
    def _failed(self, event: Any, tracking: Tracking) -> None:
        message = self._outbound(event, tracking)
        message.update(reply_status="failed", failure_reason=event.reason, attempts=event.attempts)

    @process_event.register(DeliveryUpdated)
    def _delivery(self, event: Any, tracking: Tracking) -> None:
        self._outbound(event, tracking)["delivery"] = stored(event.status)

    # -------------------------------------------------------------- helpers

    def _thread_fields(self, event: Any, tracking: Tracking) -> Document:
        conversation_id = str(ids.conversation_id(event.account, event.chat_id))
        conversation = self.require(STATE, f"conversation/{conversation_id}", tracking)
        return {
            "thread_id": str(event.originator_id),
            "conversation_id": conversation_id,
            "contact_id": conversation["contact_id"],
            "account": event.account,
            "chat_id": event.chat_id,
        }

    def _inbound(self, event: Any, tracking: Tracking) -> Document:
        return self._message(inbound_id(str(event.originator_id), event.wa_message_id), tracking)

    def _outbound(self, event: Any, tracking: Tracking) -> Document:
        return self._message(outbound_id(str(event.originator_id), event.reply_id), tracking)

    def _message(self, doc_id: str, tracking: Tracking) -> Document:
        message = self.require(MESSAGES, doc_id, tracking)
        self.changed(MESSAGES, message)
        return message
