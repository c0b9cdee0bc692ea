"""The inbound traffic of a soak run: who writes what, when, and what Parley is
expected to do with it.

Conversations are one-to-one chats with made-up numbers. Each message is planned
up front from a seeded random generator, so a run can be repeated. Bodies are
shaped as Meta's webhook notifications (one message per POST, as Meta mostly
sends them) and built at posting time, with the timestamp of that moment.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from parley.tools.soakrig.config import SoakConfig

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
LONG_TEXT_CHARS = 65_536  # 64 KiB of ASCII: WhatsApp's (and the intake's) longest text

_WORDS = [
    *("hello", "thanks", "order", "delivery", "tomorrow", "price", "invoice", "booking"),
    *("meeting", "question", "great", "sorry", "late", "refund", "opening", "hours"),
    *("sunday", "weekend", "shop", "address", "parcel", "please", "urgent", "happy"),
    *("lovely", "problem", "help", "time", "today", "morning", "evening"),
]


class Expect(StrEnum):
    REPLY = "reply"  # exactly one reply must be sent
    WITHHELD = "withheld"  # nothing to answer: recorded as withheld, never sent


class Kind(StrEnum):
    TEXT = "text"
    LONG = "long_64k"
    SURROGATE = "lone_surrogate"
    EMOJI = "emoji_only"
    EMPTY = "empty"
    IMAGE = "image_no_caption"
    AUDIO = "audio"
    DOCUMENT = "document_no_caption"
    STICKER = "sticker"
    REACTION = "reaction"


ODD_KINDS = (
    Kind.LONG,
    Kind.SURROGATE,
    Kind.EMOJI,
    Kind.EMPTY,
    Kind.IMAGE,
    Kind.AUDIO,
    Kind.DOCUMENT,
    Kind.STICKER,
    Kind.REACTION,
)
WITHHELD_KINDS = frozenset({Kind.EMPTY, Kind.REACTION})


@dataclass(frozen=True)
class Conversation:
    index: int
    wa_id: str  # the contact's number, digits only
    name: str


@dataclass(frozen=True)
class Planned:
    """One inbound message of the plan."""

    index: int
    wamid: str
    conversation: Conversation
    kind: Kind
    text: str  # may hold a lone surrogate (Kind.SURROGATE)
    at: float  # seconds after the start of the traffic
    copies: int  # deliveries of the same body: 1, or more for a duplicated one
    late_copy_after: float  # seconds after the first delivery for the last copy
    reacts_to: str = ""

    @property
    def expect(self) -> Expect:
        return Expect.WITHHELD if self.kind in WITHHELD_KINDS else Expect.REPLY

    def body(self, timestamp: int | None = None) -> bytes:
        """The webhook body Meta would POST for this message."""
        sent = int(time.time()) if timestamp is None else timestamp
        message = _message(self, sent)
        document = _envelope(
            {
                "contacts": [
                    {"profile": {"name": self.conversation.name}, "wa_id": self.conversation.wa_id}
                ],
                "messages": [message],
            }
        )
        if self.kind is Kind.SURROGATE:
            # orjson cannot write a lone surrogate; the standard library escapes it
            # as JSON allows ("\ud83d"), which is what a buggy client produces.
            return json.dumps(document).encode()
        return orjson.dumps(document)


def conversations(config: SoakConfig) -> list[Conversation]:
    return [
        Conversation(index, f"447{700_000_000 + index:09d}", f"Soak Contact {index}")
        for index in range(config.conversations)
    ]


def plan(config: SoakConfig, run_id: str) -> list[Planned]:
    """Every inbound message of the run, in posting order."""
    rng = random.Random(config.seed)
    people = conversations(config)
    # Every conversation gets its share; the rest go to random ones.
    order = [people[i % len(people)] for i in range(config.messages)]
    rng.shuffle(order)
    last_in: dict[int, str] = {}
    planned: list[Planned] = []
    for index, person in enumerate(order):
        kind = Kind.TEXT
        if config.has("odd_messages") and rng.random() < config.odd_share:
            kind = ODD_KINDS[rng.randrange(len(ODD_KINDS))]
        if kind is Kind.REACTION and person.index not in last_in:
            kind = Kind.EMOJI  # nothing to react to yet
        copies, late = 1, 0.0
        if config.has("duplicates") and rng.random() < config.duplicate_share:
            copies = rng.choice((2, 2, 3))
            late = rng.uniform(0.5, 5.0)
        wamid = f"wamid.soak.{run_id}.{index:06d}"
        planned.append(
            Planned(
                index=index,
                wamid=wamid,
                conversation=person,
                kind=kind,
                text=_text(kind, rng, index),
                at=index / config.rate,
                copies=copies,
                late_copy_after=late,
                reacts_to=last_in.get(person.index, ""),
            )
        )
        last_in[person.index] = wamid
    return planned


def _text(kind: Kind, rng: random.Random, index: int) -> str:
    if kind is Kind.TEXT:
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 30)))
        return f"message {index}: {words}"
    if kind is Kind.LONG:
        chunk = f"long message {index} " + " ".join(_WORDS) + ". "
        return (chunk * (LONG_TEXT_CHARS // len(chunk) + 1))[:LONG_TEXT_CHARS]
    if kind is Kind.SURROGATE:
        return f"half an emoji \ud83d and a stray low half \udc00 in message {index}"
    if kind is Kind.EMOJI:
        return rng.choice(("😀", "👍🏽", "🎉🎉🎉", "❤️", "👨‍👩‍👧‍👦", "🙏😊"))
    return ""


_MEDIA_TYPES = {
    Kind.IMAGE: ("image", "image/jpeg"),
    Kind.AUDIO: ("audio", "audio/ogg; codecs=opus"),
    Kind.DOCUMENT: ("document", "application/pdf"),
    Kind.STICKER: ("sticker", "image/webp"),
}


def _message(planned: Planned, timestamp: int) -> dict[str, Any]:
    base: dict[str, Any] = {
        "from": planned.conversation.wa_id,
        "id": planned.wamid,
        "timestamp": str(timestamp),
    }
    kind = planned.kind
    if kind in _MEDIA_TYPES:
        media_type, mime = _MEDIA_TYPES[kind]
        media: dict[str, Any] = {
            "mime_type": mime,
            "sha256": "HgsyZ6RxKzVNrBfpXwVwqdnOzBGKFN7DwgNMr8d5aP0=",
            "id": f"{1_093_219_345_238_839 + planned.index}",
        }
        if kind is Kind.AUDIO:
            media["voice"] = True
        return {**base, "type": media_type, media_type: media}
    if kind is Kind.REACTION:
        return {
            **base,
            "type": "reaction",
            "reaction": {"message_id": planned.reacts_to, "emoji": "👍"},
        }
    return {**base, "type": "text", "text": {"body": planned.text}}


def status_body(outbound_id: str, wamid: str, recipient: str, timestamp: int) -> bytes:
    """The "sent" status notification Meta posts after it accepts a message."""
    status = {
        "id": wamid,
        "status": "sent",
        "timestamp": str(timestamp),
        "recipient_id": recipient,
        "biz_opaque_callback_data": outbound_id,
        "conversation": {"id": f"conv-{recipient}", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "service"},
    }
    return orjson.dumps(_envelope({"statuses": [status]}))


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    """A webhook document as Meta wraps one change of our number."""
    metadata = {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                        "field": "messages",
                    }
                ],
            }
        ],
    }
