"""The Cloud API transport's settings, from `PARLEY_CLOUD_*` variables.

* `PARLEY_CLOUD_PHONE_NUMBER_ID` (required): the business number's id in the Graph API.
* `PARLEY_CLOUD_ACCESS_TOKEN` (required): a system-user token allowed to send messages.
* `PARLEY_CLOUD_APP_SECRET` (required): the Meta app's secret; it signs every webhook POST.
* `PARLEY_CLOUD_VERIFY_TOKEN` (required, 8+ characters): typed into Meta's webhook settings.
* `PARLEY_CLOUD_GRAPH_URL`: the Graph API's base URL; default `https://graph.facebook.com`.
* `PARLEY_CLOUD_API_VERSION`: default `v21.0`.
* `PARLEY_CLOUD_WEBHOOK_HOST`, `PARLEY_CLOUD_WEBHOOK_PORT`: where the webhook listens;
  default `127.0.0.1`, `8081` (put an HTTPS reverse proxy in front of it).
* `PARLEY_CLOUD_WEBHOOK_PATH`: default `/webhook`.
* `PARLEY_CLOUD_SEND_TIMEOUT`: seconds one Graph API request may take; default `15`.
* `PARLEY_CLOUD_SEND_ATTEMPTS`: tries per send on 429 and 5xx answers; default `4`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from parley.tools.config import ConfigError

_VERSION = re.compile(r"^v\d{1,3}\.\d{1,3}$")
_DIGITS = re.compile(r"^\d{1,32}$")


@dataclass(frozen=True)
class CloudApiConfig:
    phone_number_id: str
    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    graph_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8081
    webhook_path: str = "/webhook"
    send_timeout: float = 15.0
    send_attempts: int = 4

    @property
    def messages_url(self) -> str:
        return f"{self.graph_url.rstrip('/')}/{self.api_version}/{self.phone_number_id}/messages"


def from_env(environ: Mapping[str, str]) -> CloudApiConfig:
    """The settings in `environ`; raises ConfigError naming the first bad variable."""

    def get(name: str, default: str = "") -> str:
        return environ.get(name, default).strip()

    def required(name: str) -> str:
        value = get(name)
        if not value:
            msg = f"{name} is required for PARLEY_TRANSPORT=cloud"
            raise ConfigError(msg)
        return value

    phone_number_id = required("PARLEY_CLOUD_PHONE_NUMBER_ID")
    if not _DIGITS.match(phone_number_id):
        msg = f"PARLEY_CLOUD_PHONE_NUMBER_ID must be digits (Meta's id), not {phone_number_id!r}"
        raise ConfigError(msg)
    verify_token = required("PARLEY_CLOUD_VERIFY_TOKEN")
    if len(verify_token) < 8:
        msg = "PARLEY_CLOUD_VERIFY_TOKEN must be at least 8 characters"
        raise ConfigError(msg)
    graph_url = get("PARLEY_CLOUD_GRAPH_URL", "https://graph.facebook.com").rstrip("/")
    parts = urlsplit(graph_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"PARLEY_CLOUD_GRAPH_URL must be an http(s) URL, not {graph_url!r}"
        raise ConfigError(msg)
    version = get("PARLEY_CLOUD_API_VERSION", "v21.0")
    if not _VERSION.match(version):
        msg = f"PARLEY_CLOUD_API_VERSION must look like v21.0, not {version!r}"
        raise ConfigError(msg)
    path = get("PARLEY_CLOUD_WEBHOOK_PATH", "/webhook")
    if not path.startswith("/") or any(ch.isspace() for ch in path):
        msg = f"PARLEY_CLOUD_WEBHOOK_PATH must start with '/' and hold no spaces, not {path!r}"
        raise ConfigError(msg)
    return CloudApiConfig(
        phone_number_id=phone_number_id,
        access_token=required("PARLEY_CLOUD_ACCESS_TOKEN"),
        app_secret=required("PARLEY_CLOUD_APP_SECRET"),
        verify_token=verify_token,
        graph_url=graph_url,
        api_version=version,
        webhook_host=get("PARLEY_CLOUD_WEBHOOK_HOST", "127.0.0.1"),
        webhook_port=_number(
            "PARLEY_CLOUD_WEBHOOK_PORT", get("PARLEY_CLOUD_WEBHOOK_PORT", "8081"), int, 0, 65535
        ),
        webhook_path=path,
        send_timeout=_number(
            "PARLEY_CLOUD_SEND_TIMEOUT", get("PARLEY_CLOUD_SEND_TIMEOUT", "15"), float, 0.1, 300
        ),
        send_attempts=_number(
            "PARLEY_CLOUD_SEND_ATTEMPTS", get("PARLEY_CLOUD_SEND_ATTEMPTS", "4"), int, 1, 10
        ),
    )


N = TypeVar("N", int, float)


def _number(variable: str, value: str, kind: type[N], low: N, high: N) -> N:
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        msg = f"{variable} must be a number from {low} to {high}, not {value!r}"
        raise ConfigError(msg)
    return number
