"""Subscribers: filters, validation, configuration and the store the API exposes."""

from __future__ import annotations

from typing import Any

import pytest
from parley.bridge.outbound_webhooks import (
    InvalidSubscriber,
    Subscriber,
    SubscriberExists,
    SubscriberIsConfigured,
    WebhookSubscriptionStore,
    from_env,
)
from parley.bridge.outbound_webhooks.store import ProgressRecord
from parley.tools.config import ConfigError
from pymongo.database import Database

SECRET = "sixteen-chars-or-more"
TOPIC = "parley.domain.threads:Thread.MessageReceived"


@pytest.mark.parametrize(
    ("events", "wanted"),
    [
        (("*",), True),
        (("Thread.*",), True),
        (("*.MessageReceived",), True),
        ((TOPIC,), True),
        (("parley.domain.threads:*",), True),
        (("Contact.*",), False),
        (("Thread.ReplySent", "Contact.*"), False),
    ],
)
def test_event_filters_match_topic_or_class_name(events: tuple[str, ...], wanted: bool) -> None:
    subscriber = Subscriber(id="s", url="https://x.example/h", events=events, secret=SECRET)
    assert subscriber.wants(TOPIC) is wanted


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"url": "ftp://x.example/h"}, "url must be an absolute http"),
        ({"url": "/relative"}, "url must be an absolute http"),
        ({"events": []}, "events must be a list of 1 to 50"),
        ({"events": ["Thread.*; drop"]}, "each event filter"),
        ({"secret": "short"}, "secret must be 16 to 256"),
        ({"replay": "yes"}, "replay must be true or false"),
        ({"subscriber_id": "has space"}, "id must be 1-64"),
    ],
)
def test_bad_subscriber_fields_are_one_clear_line(
    db: Database[dict[str, Any]], fields: dict[str, Any], problem: str
) -> None:
    store = WebhookSubscriptionStore(db)
    arguments: dict[str, Any] = {
        "url": "https://crm.example/hooks",
        "events": ["*"],
        "secret": SECRET,
        **fields,
    }
    with pytest.raises(InvalidSubscriber, match=problem):
        store.add(**arguments)
    assert store.list() == []


def test_store_adds_lists_and_removes(db: Database[dict[str, Any]]) -> None:
    store = WebhookSubscriptionStore(db, head=lambda: 41)
    added = store.add("https://crm.example/hooks", ["Thread.*"], SECRET, subscriber_id="crm")
    generated = store.add("https://bi.example/in", ["*"], SECRET)

    assert [s.id for s in store.list()] == sorted(["crm", generated.id])
    assert store.get("crm") == added
    assert added.public() == {
        "id": "crm",
        "url": "https://crm.example/hooks",
        "events": ["Thread.*"],
        "source": "api",
        "replay": False,
    }
    assert store.start_positions()["crm"] == 41  # only events after it was added
    with pytest.raises(SubscriberExists):
        store.add("https://other.example/", ["*"], SECRET, subscriber_id="crm")
    assert store.remove("crm") is True
    assert store.remove("crm") is False
    assert [s.id for s in store.list()] == [generated.id]


def test_replay_starts_from_the_first_event(db: Database[dict[str, Any]]) -> None:
    store = WebhookSubscriptionStore(db, head=lambda: 41)
    store.add("https://crm.example/hooks", ["*"], SECRET, subscriber_id="all", replay=True)
    assert store.start_positions()["all"] == 0


def test_configured_subscribers_are_synced_and_cannot_be_removed_by_the_api(
    db: Database[dict[str, Any]],
) -> None:
    store = WebhookSubscriptionStore(db, head=lambda: 5)
    first = from_env(
        {
            "PARLEY_WEBHOOKS": '[{"id": "a", "url": "https://a.example/", "events": ["*"],'
            f' "secret": "{SECRET}"}}, {{"id": "b", "url": "https://b.example/",'
            f' "events": ["Thread.*"], "secret": "{SECRET}"}}]'
        }
    )
    store.sync_configured(first)
    with pytest.raises(SubscriberIsConfigured, match="remove it there"):
        store.remove("a")

    changed = (
        Subscriber(
            id="a", url="https://a2.example/", events=("*",), secret=SECRET, source="config"
        ),
    )
    store.sync_configured(changed)

    [only] = store.list()
    assert (only.id, only.url, only.source) == ("a", "https://a2.example/", "config")
    assert store.start_positions()["a"] == 5  # the start is kept across config changes


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{not json", "PARLEY_WEBHOOKS is not valid JSON"),
        ('{"id": "a"}', "must be a JSON list"),
        (
            '[{"id": "a", "url": "https://a.example/", "events": ["*"]}]',
            r"PARLEY_WEBHOOKS\[0\]: secret",
        ),
        ('[{"url": "https://a.example/", "events": ["*"], "secret": "' + SECRET + '"}]', "id must"),
        ('[{"id": "a", "colour": "red"}]', "unknown keys: colour"),
    ],
)
def test_bad_webhook_configuration_names_the_entry(raw: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        from_env({"PARLEY_WEBHOOKS": raw})


def test_no_configuration_means_no_subscribers() -> None:
    assert from_env({}) == ()


def test_progress_moves_through_only_over_settled_positions() -> None:
    progress = ProgressRecord(10, settled_above=[9, 13])
    assert progress.through == 10
    assert progress.settled_above == [13]

    assert progress.settle(12) is False  # 11 is still out
    assert progress.settle(11) is True
    assert (progress.through, progress.settled_above) == (13, [])
    assert progress.is_settled(5)
    assert not progress.is_settled(14)
