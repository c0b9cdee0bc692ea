"""What each read model shows, from small histories written through the app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from parley.domain import ids
from parley.domain.application import ParleyApp, ReplyOutcome
from parley.domain.messages import DeliveryStatus, DeliveryUpdate, MessageKind
from parley.domain.profiles import PersonaProfile, Relationship
from parley.projections import histogram, queries
from parley.projections.analytics import bucket_ids
from parley.projections.messages import inbound_id, outbound_id
from testkit.readmodels import T0, inbound, make_app, project

ANA = "4915100000001@c.us"
ACCOUNT = "default"


@pytest.fixture
def app(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    application = make_app(mongo_uri, database_name)
    yield application
    application.close()


def outcome(text: str, *, fallback: bool = False, latency: float = 800.0) -> ReplyOutcome:
    return ReplyOutcome(
        text=text,
        model="fallback" if fallback else "gemini-2.5-flash",
        latency_ms=latency,
        prompt_tokens=None if fallback else 420,
        response_tokens=None if fallback else 17,
        finish_reason="" if fallback else "STOP",
        context_digest="abc123",
        is_fallback=fallback,
        fallback_reason="circuit open" if fallback else "",
    )


def ana_conversation(app: ParleyApp) -> UUID:
    """Three messages from Ana: one answered and sent (3 s after it arrived), one
    left unanswered, one answered by a fallback that failed to send; then the
    operator names her and makes her a client."""
    app.set_persona(ACCOUNT, PersonaProfile(name="Parley", owner_name="Sam"), by="owner", at=T0)
    first = app.receive(inbound(ANA, "w1", "Hello! Are we still on for FRIDAY?", T0))
    assert first.thread_id is not None
    assert first.contact_id is not None
    thread_id = first.thread_id
    reply = app.record_generated(
        thread_id, "w1", outcome("Yes, see you then!"), T0 + timedelta(seconds=2)
    )
    app.record_sent(thread_id, reply, "out-1", attempts=1, at=T0 + timedelta(seconds=3))
    for status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
        app.record_delivery(
            DeliveryUpdate(ACCOUNT, ANA, "out-1", status, T0 + timedelta(seconds=9))
        )
    app.receive(
        inbound(ANA, "w2", "This delay is terrible and I am angry.", T0 + timedelta(minutes=1))
    )
    app.receive(inbound(ANA, "w3", "Please call me (urgent)", T0 + timedelta(minutes=2)))
    fallback = app.record_generated(
        thread_id,
        "w3",
        outcome("The owner will call you back.", fallback=True),
        T0 + timedelta(minutes=2, seconds=1),
    )
    app.record_failed(
        thread_id,
        fallback,
        reason="transport unavailable",
        attempts=3,
        permanent=False,
        at=T0 + timedelta(minutes=3),
    )
    app.edit_contact(
        first.contact_id,
        by="operator",
        at=T0 + timedelta(minutes=5),
        name="Ana Souza",
        relationship=Relationship.CLIENT,
    )
    return thread_id


def test_thread_document_counts_every_outcome(app: ParleyApp) -> None:
    thread_id = ana_conversation(app)
    project(app)
    db = app.recorder.datastore.db
    thread = db.rm_threads.find_one({"_id": str(thread_id)})
    assert thread is not None
    assert thread["counts"] == {
        "inbound": 3,
        "replies_generated": 2,
        "replies_sent": 1,
        "replies_failed": 1,
        "fallbacks": 1,
        "withheld": 0,
        "manual": 0,
    }
    assert thread["unanswered"] == 1  # w2
    assert [wa_id for wa_id, _ in thread["awaiting_reply"]] == ["w2"]
    assert thread["awaiting_send"] == []
    assert {topic for topic, _, _ in thread["topic_counts"]} >= set(thread["topics"])
    assert thread["last_reply_latency_ms"] == 3000.0
    assert (thread["contact_name"], thread["relationship"]) == ("Ana Souza", "client")
    assert thread["state"] == "active"
    assert thread["bot_paused"] is False
    assert thread["last_message"]["direction"] == "out"
    assert thread["last_message"]["text"] == "The owner will call you back."
    assert thread["last_message_at"] == T0 + timedelta(minutes=2)
    assert len(thread["sentiment"]["trend"]) == 3
    assert thread["sentiment"]["last"] == thread["sentiment"]["trend"][-1]
    assert thread["sentiment"]["last"] > 0 > thread["sentiment"]["trend"][1]
    assert thread["topics"]
    assert len(thread["topics"]) <= 10


def test_messages_timeline_carries_reply_status_and_delivery(app: ParleyApp) -> None:
    thread_id = ana_conversation(app)
    project(app)
    db = app.recorder.datastore.db
    timeline = list(queries.thread_messages(db, str(thread_id)))
    assert [(m["direction"], m.get("wa_message_id", m["_id"].split("/")[-1])) for m in timeline][
        :2
    ] == [
        ("in", "w1"),
        ("out", "out-1"),
    ]
    assert [m["seq"] for m in timeline] == sorted(m["seq"] for m in timeline)
    sent = db.rm_messages.find_one({"_id": outbound_id(str(thread_id), timeline[1]["reply_id"])})
    assert sent is not None
    assert (sent["reply_status"], sent["delivery"], sent["in_reply_to"]) == ("sent", "read", "w1")
    assert sent["sent_at"] == T0 + timedelta(seconds=3)
    assert (sent["model"], sent["prompt_tokens"], sent["is_fallback"]) == (
        "gemini-2.5-flash",
        420,
        False,
    )
    failed = timeline[-1]
    assert (failed["reply_status"], failed["failure_reason"], failed["attempts"]) == (
        "failed",
        "transport unavailable",
        3,
    )
    assert failed["is_fallback"]
    assert failed["fallback_reason"] == "circuit open"
    first = db.rm_messages.find_one({"_id": inbound_id(str(thread_id), "w1")})
    assert first is not None
    assert first["text"] == "Hello! Are we still on for FRIDAY?"
    assert first["sentiment"]["label"] in ("positive", "neutral", "negative")
    assert first["conversation_id"] == str(ids.conversation_id(ACCOUNT, ANA))


def test_search_finds_text_case_insensitively_and_literally(app: ParleyApp) -> None:
    thread_id = ana_conversation(app)
    project(app)
    db = app.recorder.datastore.db
    assert [m["text"] for m in queries.search_thread(db, str(thread_id), "friday")] == [
        "Hello! Are we still on for FRIDAY?"
    ]
    assert [m["text"] for m in queries.search_thread(db, str(thread_id), "(urgent)")] == [
        "Please call me (urgent)"
    ]
    assert queries.search_thread(db, str(thread_id), ".*") == []


def test_contact_profile_and_statistics(app: ParleyApp) -> None:
    ana_conversation(app)
    project(app)
    db = app.recorder.datastore.db
    contact = next(queries.contact_by_number(db, ACCOUNT, "4915100000001"))
    assert (contact["name"], contact["push_name"], contact["relationship"]) == (
        "Ana Souza",
        "Ana",
        "client",
    )
    assert contact["first_seen_at"] == T0
    assert contact["last_message_at"] == T0 + timedelta(minutes=2)
    stats = contact["stats"]
    assert (stats["inbound"], stats["replies_sent"], stats["threads"]) == (3, 1, 1)
    compounds = [m["sentiment"]["compound"] for m in db.rm_messages.find({"direction": "in"})]
    assert stats["assessed"] == 3
    assert stats["sentiment_sum"] == pytest.approx(sum(compounds))
    assert stats["sentiment_mean"] == round(sum(compounds) / 3, 4)
    assert contact["style"]["samples"] >= 1


def test_context_holds_turns_persona_and_relationship_in_one_document(app: ParleyApp) -> None:
    ana_conversation(app)
    project(app)
    db = app.recorder.datastore.db
    context = next(queries.contact_context(db, str(ids.contact_id(ACCOUNT, "4915100000001"))))
    assert context["interaction_count"] == 3
    assert [(t["role"], t["text"]) for t in context["recent"]] == [
        ("user", "Hello! Are we still on for FRIDAY?"),
        ("model", "Yes, see you then!"),
        ("user", "This delay is terrible and I am angry."),
        ("user", "Please call me (urgent)"),
        ("model", "The owner will call you back."),
    ]
    assert context["persona"]["owner_name"] == "Sam"
    assert (context["name"], context["relationship"]) == ("Ana Souza", "client")
    assert context["push_name"] == "Ana"
    assert len(context["sentiment_recent"]) == 3
    assert context["sentiment_trend"] == round(sum(context["sentiment_recent"]) / 3, 4)
    assert context["recent_topics"]


def test_analytics_buckets_by_hour_day_and_total(app: ParleyApp) -> None:
    ana_conversation(app)
    project(app)
    db = app.recorder.datastore.db
    hour_id, day_id, total_id = (doc_id for doc_id, _, _ in bucket_ids(ACCOUNT, T0))
    for doc_id in (hour_id, day_id, total_id):
        bucket = db.rm_analytics.find_one({"_id": doc_id})
        assert bucket is not None, doc_id
        figures = {
            k: bucket[k]
            for k in ("inbound", "replies_generated", "replies_sent", "failures", "fallbacks")
        }
        assert figures == {
            "inbound": 3,
            "replies_generated": 2,
            "replies_sent": 1,
            "failures": 1,
            "fallbacks": 1,
        }
        assert bucket["latency_ms"] == {"p50": 3000.0, "p95": 3000.0, "p99": 3000.0, "count": 1}
        assert sum(bucket["sentiment"].values()) == 3
        assert bucket["active_contacts"] == 1
        # Ana became a client after these messages: they count as unknown.
        assert bucket["by_relationship"] == {"unknown": {"inbound": 3, "replies_sent": 1}}
    day = db.rm_analytics.find_one({"_id": day_id})
    assert day is not None
    assert day["bucket"] == datetime(2025, 3, 3, tzinfo=UTC)
    assert db.rm_analytics.find_one({"_id": total_id})["bucket"] is None  # type: ignore[index]


def test_a_new_thread_after_archive_and_names_follow_the_contact(app: ParleyApp) -> None:
    first = app.receive(inbound(ANA, "a1", "hi", T0))
    later = T0 + timedelta(days=8)
    second = app.receive(inbound(ANA, "a2", "hi again", later))
    assert first.thread_id != second.thread_id
    assert first.contact_id is not None
    app.edit_contact(
        first.contact_id, by="operator", at=later, name="Ana S.", relationship=Relationship.FRIEND
    )
    app.set_persona(
        ACCOUNT, PersonaProfile(name="Parley", owner_name="Sam", tone="dry"), by="owner", at=later
    )
    project(app)
    db = app.recorder.datastore.db
    threads = list(queries.contact_threads(db, str(first.contact_id)))
    assert [(t["number"], t["state"], t["contact_name"], t["relationship"]) for t in threads] == [
        (1, "archived", "Ana S.", "friend"),
        (2, "active", "Ana S.", "friend"),
    ]
    assert threads[1]["previous_thread_id"] == str(first.thread_id)
    contact = db.rm_contacts.find_one({"_id": str(first.contact_id)})
    assert contact is not None
    assert contact["stats"]["threads"] == 2
    context = db.rm_context.find_one({"_id": str(first.contact_id)})
    assert context is not None
    assert context["persona"]["tone"] == "dry"
    assert {t["thread_id"] for t in context["recent"]} == {
        str(first.thread_id),
        str(second.thread_id),
    }


def test_group_messages_without_mention_are_withheld_not_unanswered(app: ParleyApp) -> None:
    group = "120363000000001@g.us"
    result = app.receive(
        inbound(group, "g1", "who is coming tonight?", T0, sender="4915100000009", is_group=True)
    )
    assert result.withheld
    project(app)
    thread = app.recorder.datastore.db.rm_threads.find_one({"_id": str(result.thread_id)})
    assert thread is not None
    assert thread["is_group"]
    assert (thread["counts"]["withheld"], thread["unanswered"]) == (1, 0)
    message = app.recorder.datastore.db.rm_messages.find_one(
        {"_id": inbound_id(str(result.thread_id), "g1")}
    )
    assert message is not None
    assert message["withheld"] == "group message without a mention"


def test_the_owners_own_messages_are_not_the_contacts(app: ParleyApp) -> None:
    app.receive(inbound(ANA, "o1", "I love this, wonderful!", T0))
    own = app.receive(
        inbound(
            ANA,
            "o2",
            "I hate waiting, awful.",
            T0 + timedelta(minutes=1),
            sender="",
            push_name="",
            from_me=True,
        )
    )
    assert own.withheld == "own message"
    project(app)
    db = app.recorder.datastore.db
    contact_id = str(ids.contact_id(ACCOUNT, "4915100000001"))
    contact = db.rm_contacts.find_one({"_id": contact_id})
    context = db.rm_context.find_one({"_id": contact_id})
    mine = db.rm_messages.find_one({"_id": inbound_id(str(own.thread_id), "o1")})
    assert contact is not None
    assert context is not None
    assert mine is not None
    assert contact["stats"]["inbound"] == 1
    assert contact["stats"]["sentiment_mean"] == mine["sentiment"]["compound"] > 0
    assert context["interaction_count"] == 1
    assert [t["role"] for t in context["recent"]] == ["user", "model"]
    total = db.rm_analytics.find_one({"_id": f"{ACCOUNT}/total"})
    assert total is not None
    assert total["inbound"] == 1
    assert sum(total["sentiment"].values()) == 1


def test_manual_replies_and_paused_threads(app: ParleyApp) -> None:
    result = app.receive(inbound(ANA, "m1", "Can I book Tuesday?", T0))
    assert result.thread_id is not None
    app.pause_bot(result.thread_id, by="sam", reason="I'll answer", at=T0 + timedelta(seconds=5))
    reply = app.queue_manual_reply(
        result.thread_id, "req-1", "Tuesday works.", "sam", T0 + timedelta(seconds=30)
    )
    app.record_sent(result.thread_id, reply, "out-m", attempts=1, at=T0 + timedelta(seconds=31))
    paused = app.receive(inbound(ANA, "m2", "Great, thanks", T0 + timedelta(minutes=1)))
    assert paused.withheld == "bot paused"
    project(app)
    db = app.recorder.datastore.db
    thread = db.rm_threads.find_one({"_id": str(result.thread_id)})
    assert thread is not None
    assert thread["bot_paused"] is True
    assert thread["counts"]["manual"] == 1
    assert thread["counts"]["replies_generated"] == 0
    assert thread["unanswered"] == 1  # m1: a manual reply answers no particular message
    assert thread["last_reply_latency_ms"] is None
    message = db.rm_messages.find_one({"_id": outbound_id(str(result.thread_id), reply)})
    assert message is not None
    assert message["manual"]
    assert message["model"] == "manual:sam"


def test_latency_percentiles_come_from_fixed_buckets() -> None:
    counts = histogram.empty()
    for latency in [800.0] * 90 + [4_000.0] * 9 + [4_000_000.0]:
        counts[histogram.bucket_of(latency)] += 1
    assert histogram.summary(counts) == {"p50": 1000.0, "p95": 5000.0, "p99": 5000.0, "count": 100}
    counts[histogram.bucket_of(4_000_000.0)] += 5
    assert histogram.percentile(counts, 99) == float(histogram.LATENCY_BOUNDS_MS[-1])
    assert histogram.summary(histogram.empty())["p50"] is None


def test_message_kinds_and_media_are_kept_as_recorded(app: ParleyApp) -> None:
    from parley.domain.messages import MediaInfo

    result = app.receive(
        inbound(
            ANA,
            "i1",
            "look",
            T0,
            kind=MessageKind.IMAGE,
            media=MediaInfo("image/png", 1234, width=10, height=20),
        )
    )
    project(app)
    message = app.recorder.datastore.db.rm_messages.find_one(
        {"_id": inbound_id(str(result.thread_id), "i1")}
    )
    assert message is not None
    assert message["kind"] == "image"
    assert message["media"]["mime_type"] == "image/png"
    assert message["media"]["width"] == 10
