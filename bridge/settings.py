"""The bridge's own settings: bot rules, the reply process, the persona file.

PARLEY_QUIET_HOURS        client=21:00-08:00,colleague=21:00-07:00 (or "none")
PARLEY_REPLY_RATE         10/600: at most 10 replies per chat in 600 seconds
PARLEY_REPLY_GROUPS       chat ids of groups where the bot answers everything
PARLEY_MAX_PROCESSED_CHARS  longer texts are cut for analysis and the model (4000)
PARLEY_REPLY_CONCURRENCY  threads answered at once (16)
PARLEY_SEND_ATTEMPTS      tries per reply before it is recorded as failed (5)
PARLEY_AGGREGATE_CACHE    follow_log: serve aggregates from memory, kept true by
                          following the log (default); ask_store: ask the store
                          for newer events on every load
PARLEY_PERSONA_FILE       a JSON file with the persona (name, owner_name,
                          organisation, services, instructions, tone)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from parley.bridge.reply_process import ReplySettings
from parley.domain.errors import InvalidEdit
from parley.domain.persona import check_profile
from parley.domain.profiles import PersonaProfile, Relationship
from parley.domain.rules import DEFAULT_QUIET_HOURS, BotRules, QuietHours
from parley.tools.config import ConfigError


@dataclass(frozen=True)
class BridgeSettings:
    rules: BotRules
    reply: ReplySettings
    persona: PersonaProfile | None
    cache_follows_log: bool = True


def from_env(environ: Mapping[str, str], timezone: str) -> BridgeSettings:
    def get(name: str, default: str = "") -> str:
        return environ.get(name, default).strip()

    return BridgeSettings(
        rules=BotRules(
            timezone=timezone,
            quiet_hours=_quiet_hours(get("PARLEY_QUIET_HOURS")),
            max_replies=_rate(get("PARLEY_REPLY_RATE", "10/600"))[0],
            rate_window=timedelta(seconds=_rate(get("PARLEY_REPLY_RATE", "10/600"))[1]),
            max_processed_chars=_int("PARLEY_MAX_PROCESSED_CHARS", get, 4_000, 100, 65_536),
            enabled_groups=frozenset(
                chat for chat in get("PARLEY_REPLY_GROUPS").split(",") if chat.strip()
            ),
        ),
        reply=ReplySettings(
            concurrency=_int("PARLEY_REPLY_CONCURRENCY", get, 16, 1, 256),
            send_attempts=_int("PARLEY_SEND_ATTEMPTS", get, 5, 1, 20),
        ),
        persona=_persona(get("PARLEY_PERSONA_FILE")),
        cache_follows_log=_cache_follows_log(get("PARLEY_AGGREGATE_CACHE", "follow_log")),
    )


def _cache_follows_log(raw: str) -> bool:
    if raw not in ("follow_log", "ask_store"):
        msg = f"PARLEY_AGGREGATE_CACHE must be follow_log or ask_store, not {raw!r}"
        raise ConfigError(msg)
    return raw == "follow_log"


def _int(name: str, get: Callable[[str, str], str], default: int, low: int, high: int) -> int:
    raw = get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        msg = f"{name} must be a whole number from {low} to {high}, not {raw!r}"
        raise ConfigError(msg)
    return int(raw)


def _rate(raw: str) -> tuple[int, int]:
    count, sep, seconds = raw.partition("/")
    if not (sep and count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
        msg = f"PARLEY_REPLY_RATE must look like 10/600 (replies per seconds), not {raw!r}"
        raise ConfigError(msg)
    return int(count), int(seconds)


def _quiet_hours(raw: str) -> dict[Relationship, QuietHours]:
    if not raw:
        return dict(DEFAULT_QUIET_HOURS)
    if raw.lower() == "none":
        return {}
    hours: dict[Relationship, QuietHours] = {}
    for part in raw.split(","):
        name, sep, span = part.partition("=")
        try:
            relationship = Relationship(name.strip().lower())
            hours[relationship] = QuietHours.parse(span)
        except ValueError:
            msg = (
                "PARLEY_QUIET_HOURS must look like client=21:00-08:00,colleague=21:00-07:00 "
                f"(relationships: {', '.join(r.value for r in Relationship)}), not {part!r}"
            )
            raise ConfigError(msg) from None
        if not sep:
            msg = f"PARLEY_QUIET_HOURS: {part!r} has no '=' between relationship and hours"
            raise ConfigError(msg)
    return hours


def _persona(path_text: str) -> PersonaProfile | None:
    if not path_text:
        return None
    path = Path(path_text)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"PARLEY_PERSONA_FILE {path}: {exc.strerror}"
        raise ConfigError(msg) from None
    except ValueError as exc:
        msg = f"PARLEY_PERSONA_FILE {path} is not valid JSON: {exc}"
        raise ConfigError(msg) from None
    fields = {"name", "owner_name", "organisation", "services", "instructions", "tone"}
    if not isinstance(data, dict) or not set(data) <= fields:
        msg = f"PARLEY_PERSONA_FILE {path} must be an object with only {sorted(fields)}"
        raise ConfigError(msg)
    services = data.get("services", [])
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        msg = f"PARLEY_PERSONA_FILE {path}: services must be a list of strings"
        raise ConfigError(msg)
    if not all(isinstance(data.get(k, ""), str) for k in fields - {"services"}):
        msg = f"PARLEY_PERSONA_FILE {path}: every field but services must be a string"
        raise ConfigError(msg)
    profile = PersonaProfile(**{**data, "services": tuple(services)})
    try:
        check_profile(profile)
    except InvalidEdit as exc:
        msg = f"PARLEY_PERSONA_FILE {path}: {exc}"
        raise ConfigError(msg) from None
    return profile
