"""Running the API against the session's database: configuration, a client, a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from parley.domain.application import ParleyApp
from parley.domain.messages import InboundMessage, MessageKind
from parley.eventstore.factory import factory_settings
from parley.http.config import ApiConfig, ApiSettings
from parley.tools.config import load_settings

TOKEN = "test-token-0123456789abcdef"
OTHER_TOKEN = "other-token-0123456789abcdef"


def api_config(
    mongo_uri: str,
    database: str,
    *,
    api: ApiSettings | None = None,
    tokens: tuple[str, ...] = (TOKEN, OTHER_TOKEN),
) -> ApiConfig:
    settings = load_settings(
        {"PARLEY_DATABASE": database, "PARLEY_MONGODB_URI": mongo_uri}, env_file=None
    )
    return ApiConfig(
        settings=settings,
        api=api or ApiSettings(rate_per_second=1_000, burst=10_000),
        mongodb_uri=mongo_uri,
        tokens=tokens,
    )


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class SettableClock:
    """A wall clock that says what the test sets."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def inbound(
    number: str,
    text: str,
    at: datetime,
    *,
    wa_message_id: str,
    push_name: str = "Ana Souza",
    account: str = "default",
) -> InboundMessage:
    """A text message from `number`, as a transport would hand it over."""
    return InboundMessage(
        account=account,
        wa_message_id=wa_message_id,
        chat_id=f"{number}@c.us",
        sender=number,
        push_name=push_name,
        kind=MessageKind.TEXT,
        text=text,
        sent_at=at,
        received_at=at,
    )


def open_parley(mongo_uri: str, database: str) -> ParleyApp:
    """The write side on the test's database (close it when done)."""
    return ParleyApp(env=factory_settings(mongo_uri, database))
