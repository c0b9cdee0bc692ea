"""Who receives the event log: a URL, the events it wants, and the secret that
signs what it is sent.

Event filters are glob patterns (`*`, `?`, `[...]`) matched against an event's
topic (`parley.domain.threads:Thread.MessageReceived`) or against the class part
after the colon (`Thread.MessageReceived`). So `*` is every event,
`Thread.*` every event of a thread and `*.ReplySent` every sent reply.

`PARLEY_WEBHOOKS` configures subscribers as a JSON list:

    [{"id": "crm", "url": "https://crm.example/hooks/parley",
      "events": ["Thread.*"], "secret": "at least sixteen characters",
      "replay": false}]

`replay: true` delivers the log from its first event; otherwise delivery starts
with the events written after the subscriber first appears.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

import orjson
from parley.tools.config import ConfigError

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FILTER = re.compile(r"^[A-Za-z0-9_.:*?\[\]!-]{1,200}$")
MAX_FILTERS = 50
MIN_SECRET = 16
MAX_SECRET = 256
MAX_URL = 2048


class InvalidSubscriber(ValueError):
    """Raised when a subscriber's fields are not acceptable; the message is one line
    naming the field."""


@dataclass(frozen=True)
class Subscriber:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str = field(repr=False)
    source: str = "api"  # "api" or "config" (PARLEY_WEBHOOKS)
    replay: bool = False  # deliver from the first event rather than from when added

    def wants(self, topic: str) -> bool:
        name = topic.partition(":")[2] or topic
        return any(fnmatchcase(topic, f) or fnmatchcase(name, f) for f in self.events)

    def public(self) -> dict[str, Any]:
        """What an API may show: everything but the secret."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "source": self.source,
            "replay": self.replay,
        }


def validated(
    *,
    subscriber_id: Any,
    url: Any,
    events: Any,
    secret: Any,
    source: str = "api",
    replay: Any = False,
) -> Subscriber:
    """A Subscriber from untrusted fields; raises InvalidSubscriber."""
    if not isinstance(subscriber_id, str) or not _ID.match(subscriber_id):
        raise InvalidSubscriber("id must be 1-64 letters, digits, '-' or '_'")
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise InvalidSubscriber(f"url must be a string of at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSubscriber("url must be an absolute http:// or https:// URL")
    if not isinstance(events, list | tuple) or not events or len(events) > MAX_FILTERS:
        raise InvalidSubscriber(f"events must be a list of 1 to {MAX_FILTERS} topic filters")
    for event_filter in events:
        if not isinstance(event_filter, str) or not _FILTER.match(event_filter):
            raise InvalidSubscriber(
                "each event filter must be a topic or glob pattern such as 'Thread.*' or '*'"
            )
    if not isinstance(secret, str) or not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise InvalidSubscriber(f"secret must be {MIN_SECRET} to {MAX_SECRET} characters")
    if not isinstance(replay, bool):
        raise InvalidSubscriber("replay must be true or false")
    return Subscriber(
        id=subscriber_id,
        url=url,
        events=tuple(dict.fromkeys(events)),
        secret=secret,
        source=source,
        replay=replay,
    )


_CONFIG_KEYS = {"id", "url", "events", "secret", "replay"}


def from_env(environ: Mapping[str, str]) -> tuple[Subscriber, ...]:
    """The subscribers in PARLEY_WEBHOOKS; raises ConfigError naming the entry."""
    raw = environ.get("PARLEY_WEBHOOKS", "").strip()
    if not raw:
        return ()
    try:
        entries = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        msg = f"PARLEY_WEBHOOKS is not valid JSON: {exc}"
        raise ConfigError(msg) from None
    if not isinstance(entries, list):
        msg = "PARLEY_WEBHOOKS must be a JSON list of subscriber objects"
        raise ConfigError(msg)
    return parse_entries(entries, "PARLEY_WEBHOOKS")


def parse_entries(entries: Sequence[Any], where: str) -> tuple[Subscriber, ...]:
    subscribers: list[Subscriber] = []
    for index, entry in enumerate(entries):
        label = f"{where}[{index}]"
        if not isinstance(entry, dict):
            msg = f"{label} must be an object with id, url, events and secret"
            raise ConfigError(msg)
        unknown = set(entry) - _CONFIG_KEYS
        if unknown:
            msg = f"{label} has unknown keys: {', '.join(sorted(unknown))}"
            raise ConfigError(msg)
        try:
            subscriber = validated(
                subscriber_id=entry.get("id"),
                url=entry.get("url"),
                events=entry.get("events"),
                secret=entry.get("secret"),
                source="config",
                replay=entry.get("replay", False),
            )
        except InvalidSubscriber as exc:
            msg = f"{label}: {exc}"
            raise ConfigError(msg) from None
        if any(existing.id == subscriber.id for existing in subscribers):
            msg = f"{label}: id {subscriber.id!r} is used twice"
            raise ConfigError(msg)
        subscribers.append(subscriber)
    return tuple(subscribers)
