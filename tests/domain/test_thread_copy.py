"""`Thread.__deepcopy__` copies containers and their records, not deeper: these
tests keep every attribute of a thread within that shape, and show a copy shares
nothing a command changes."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

from parley.domain.messages import DeliveryStatus, MessageKind
from parley.domain.thread import Thread
from testkit.inbound import T0

VALUE_TYPES = (str, int, float, bool, datetime, UUID, Enum, type(None))


def busy_thread() -> Thread:
    """A thread that has been through every kind of change."""
    thread = Thread(
        account="acct",
        conversation_id=uuid4(),
        chat_id="491510000009@c.us",
        contact_id=uuid4(),
        number=1,
        is_group=False,
        previous_thread_id=uuid4(),
        opened_at=T0,
    )
    for index in range(4):
        at = T0 + timedelta(minutes=index)
        wamid = f"wamid-{index}"
        thread.receive(
            wa_message_id=wamid,
            sender="491510000009",
            push_name="Ana",
            kind=MessageKind.TEXT,
            text="hello " * 5,
            media=None,
            sent_at=at,
            received_at=at,
            quoted_message_id="",
            from_me=False,
            mentions_me=False,
            extra={"k": "v"},
        )
        thread.assess_sentiment(wa_message_id=wamid, compound=0.4, label="pos", analyser="v")
        thread.detect_topics(wa_message_id=wamid, topics=["hello"], extractor="yake")
        if index == 3:
            thread.withhold_reply(wa_message_id=wamid, reason="operator", at=at)
            continue
        reply_id = thread.record_generated(
            in_reply_to=wamid,
            text="Hi!",
            model="m",
            latency_ms=1.0,
            prompt_tokens=1,
            response_tokens=1,
            finish_reason="STOP",
            context_digest="d",
            is_fallback=False,
            fallback_reason="",
            generated_at=at,
        )
        if index < 2:
            out = f"out-{index}"
            thread.record_sent(reply_id=reply_id, wa_message_id=out, attempts=1, sent_at=at)
    thread.record_delivery(wa_message_id="out-0", status=DeliveryStatus.READ, at=T0)
    thread.queue_manual_reply(request_id="r1", text="Call me", by="op", at=T0)
    thread.pause_bot(by="op", reason="", at=T0)
    thread.collect_events()
    return thread


def test_every_attribute_is_a_value_or_a_container_of_values_or_of_flat_records() -> None:
    def flat(record: Any) -> bool:
        return isinstance(record, VALUE_TYPES) or (
            isinstance(record, dict) and all(isinstance(v, VALUE_TYPES) for v in record.values())
        )

    for name, value in vars(busy_thread()).items():
        if isinstance(value, dict):
            assert all(flat(record) for record in value.values()), name
        elif isinstance(value, list):
            assert all(flat(item) for item in value), name
        else:
            assert isinstance(value, VALUE_TYPES), name


def test_a_copy_equals_the_thread_and_changing_it_leaves_the_thread_as_it_was() -> None:
    thread = busy_thread()
    before = pickle.loads(pickle.dumps(vars(thread)))

    twin = copy.deepcopy(thread)
    assert vars(twin) == vars(thread)

    twin.resume_bot(by="op", at=T0)
    twin.record_delivery(wa_message_id="out-1", status=DeliveryStatus.DELIVERED, at=T0)
    for value in vars(twin).values():
        if isinstance(value, dict):
            for record in value.values():
                if isinstance(record, dict):
                    record["changed"] = True
            value["added"] = {}
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    item["changed"] = True
            value.append("added")

    assert vars(thread) == before
