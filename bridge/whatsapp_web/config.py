"""Settings of the WhatsApp Web transport, from `PARLEY_WHATSAPP_WEB_*` variables.

| variable | meaning | default |
| --- | --- | --- |
| `PARLEY_WHATSAPP_WEB_URL` | the page to drive | `https://web.whatsapp.com/` |
| `PARLEY_WHATSAPP_WEB_HEADLESS` | run Chromium without a window | `true` |
| `PARLEY_WHATSAPP_WEB_CHROMIUM` | the browser to run | `chromium` on PATH |
| `PARLEY_WHATSAPP_WEB_USER_AGENT` | the user agent to present | a plain Chrome one |
| `PARLEY_WHATSAPP_WEB_QUOTE_REPLIES` | quote the message a reply answers | `true` |
| `PARLEY_WHATSAPP_WEB_MARK_READ` | mark the chat read before replying | `true` |
| `PARLEY_WHATSAPP_WEB_TYPING_SECONDS` | how long "typing..." shows before a reply (0-25) | `1.5` |
| `PARLEY_WHATSAPP_WEB_TAKEOVER` | take the session back when opened elsewhere | `false` |
| `PARLEY_WHATSAPP_WEB_PINNED_PAGE` | an HTML file served as the page (a known-good one) | unset |
| `PARLEY_WHATSAPP_WEB_CATCHUP_HOURS` | the oldest message picked up after a gap (1-168) | `24` |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from parley.tools.config import ConfigError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class WebSettings:
    url: str = "https://web.whatsapp.com/"
    headless: bool = True
    chromium: str = ""  # "" finds `chromium` on PATH when the transport starts
    user_agent: str = ""  # "" builds a plain Chrome one from the browser's version
    quote_replies: bool = True
    mark_read: bool = True
    typing_seconds: float = 1.5
    takeover_on_conflict: bool = False
    pinned_page: Path | None = None
    catchup_hours: float = 24.0


@dataclass(frozen=True)
class Timings:
    """How long the transport waits for what; tests shrink them all."""

    backoff_initial: float = 1.0  # first pause before reopening a lost page
    backoff_max: float = 60.0
    watchdog_interval: float = 15.0  # how often the page is checked
    ping_timeout: float = 10.0  # a page that does not answer this fast is hung
    stuck_after: float = 180.0  # loading or reconnecting longer than this: reload (x5 syncing)
    call_timeout: float = 30.0  # any one call into the page
    navigation_timeout: float = 60.0
    contract_grace: float = 20.0  # how long modules may take to appear after the marker
    page_poll: float = 0.25  # how often the hook looks for the marker
    takeover_delay: float = 5.0  # pause before taking a conflicting session back

    def backoff(self, failures: int) -> float:
        """The pause after `failures` consecutive failed attempts (0, 1, 2, ...)."""
        return float(min(self.backoff_max, self.backoff_initial * 2 ** min(failures, 30)))


def from_env(environ: Mapping[str, str]) -> WebSettings:
    def get(name: str) -> str:
        return environ.get(f"PARLEY_WHATSAPP_WEB_{name}", "").strip()

    defaults = WebSettings()
    url = get("URL") or defaults.url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"PARLEY_WHATSAPP_WEB_URL must be an http(s) URL, not {url!r}"
        raise ConfigError(msg)
    pinned = get("PINNED_PAGE")
    if pinned and not Path(pinned).is_file():
        msg = f"PARLEY_WHATSAPP_WEB_PINNED_PAGE {pinned!r} is not a file"
        raise ConfigError(msg)
    return WebSettings(
        url=url,
        headless=_flag("HEADLESS", get("HEADLESS"), defaults.headless),
        chromium=get("CHROMIUM"),
        user_agent=get("USER_AGENT"),
        quote_replies=_flag("QUOTE_REPLIES", get("QUOTE_REPLIES"), defaults.quote_replies),
        mark_read=_flag("MARK_READ", get("MARK_READ"), defaults.mark_read),
        typing_seconds=_number(
            "TYPING_SECONDS", get("TYPING_SECONDS"), defaults.typing_seconds, 0, 25
        ),
        takeover_on_conflict=_flag("TAKEOVER", get("TAKEOVER"), defaults.takeover_on_conflict),
        pinned_page=Path(pinned) if pinned else None,
        catchup_hours=_number(
            "CATCHUP_HOURS", get("CATCHUP_HOURS"), defaults.catchup_hours, 1, 168
        ),
    )


def _flag(name: str, value: str, default: bool) -> bool:
    if not value:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    msg = f"PARLEY_WHATSAPP_WEB_{name} must be true or false, not {value!r}"
    raise ConfigError(msg)


def _number(name: str, value: str, default: float, low: float, high: float) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not low <= number <= high:  # NaN fails this too
        msg = f"PARLEY_WHATSAPP_WEB_{name} must be a number from {low:g} to {high:g}, not {value!r}"
        raise ConfigError(msg)
    return number
