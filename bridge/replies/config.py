"""The reply model's settings, read from the environment.

| variable | meaning | default |
| --- | --- | --- |
| `GOOGLE_API_KEY`, `GEMINI_API_KEY` | Gemini key (the first wins, as in the SDK) | unset: offline |
| `PARLEY_GEMINI_MODEL` | model name | `gemini-2.5-flash` |
| `PARLEY_GEMINI_BASE_URL` | another endpoint (a proxy, the fake server) | Google's |
| `PARLEY_GEMINI_API_VERSION` | REST API version, pinned | `v1beta` |
| `PARLEY_GEMINI_TIMEOUT_MS` | one call's timeout | `15000` |
| `PARLEY_GEMINI_DEADLINE_MS` | one reply's budget, retries and waits included | `45000` |
| `PARLEY_GEMINI_RETRIES` | retries after the first call (429, 5xx, timeouts) | `3` |
| `PARLEY_GEMINI_BACKOFF_MS` | first backoff; doubles each retry, with jitter | `500` |
| `PARLEY_GEMINI_BACKOFF_MAX_MS` | longest backoff (a Retry-After may ask for more) | `8000` |
| `PARLEY_GEMINI_BREAKER_FAILURES` | consecutive failures that open the circuit | `5` |
| `PARLEY_GEMINI_BREAKER_OPEN_MS` | how long it stays open before one probe | `30000` |
| `PARLEY_GEMINI_MAX_CONCURRENCY` | calls in flight at once, process-wide | `4` |
| `PARLEY_GEMINI_HISTORY_TURNS` | most history turns sent | `20` |
| `PARLEY_GEMINI_HISTORY_CHARS` | most history characters sent (newest kept) | `6000` |
| `PARLEY_GEMINI_THINKING_BUDGET` | thinking tokens (0 turns thinking off where allowed) | model's |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from parley.tools.config import ConfigError

DEFAULT_MODEL = "gemini-2.5-flash"


@dataclass(frozen=True)
class GeminiSettings:
    api_key: str | None = None  # None: the offline responder answers
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_version: str = "v1beta"
    timeout_ms: int = 15_000
    deadline_ms: int = 45_000
    retries: int = 3
    backoff_ms: int = 500
    backoff_max_ms: int = 8_000
    breaker_failures: int = 5
    breaker_open_ms: int = 30_000
    max_concurrency: int = 4
    history_turns: int = 20
    history_chars: int = 6_000
    thinking_budget: int | None = None

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; the key must not.
        key = "set" if self.api_key else "unset"
        return f"GeminiSettings(model={self.model!r}, base_url={self.base_url!r}, api_key={key})"


def from_env(environ: Mapping[str, str] | None = None) -> GeminiSettings:
    """Settings from `environ` (default: the process environment).

    Raises ConfigError, naming the variable, for a value that cannot be used.
    """
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(name, "").strip()

    base_url = get("PARLEY_GEMINI_BASE_URL") or None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        msg = f"PARLEY_GEMINI_BASE_URL must start with http:// or https://, not {base_url!r}"
        raise ConfigError(msg)
    model = get("PARLEY_GEMINI_MODEL") or DEFAULT_MODEL
    if any(ch.isspace() or ch in "/?#:" for ch in model):
        msg = f"PARLEY_GEMINI_MODEL must be a bare model name like {DEFAULT_MODEL}, not {model!r}"
        raise ConfigError(msg)
    defaults = GeminiSettings()

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = get(name)
        if not raw:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            msg = f"{name} must be a whole number from {low} to {high}, not {raw!r}"
            raise ConfigError(msg)
        return int(raw)

    timeout_ms = number("PARLEY_GEMINI_TIMEOUT_MS", defaults.timeout_ms, 100, 600_000)
    deadline_ms = number("PARLEY_GEMINI_DEADLINE_MS", defaults.deadline_ms, 100, 3_600_000)
    if deadline_ms < timeout_ms:
        msg = "PARLEY_GEMINI_DEADLINE_MS must be at least PARLEY_GEMINI_TIMEOUT_MS"
        raise ConfigError(msg)
    api_version = get("PARLEY_GEMINI_API_VERSION") or defaults.api_version
    if not re.fullmatch(r"v[0-9]+(alpha|beta)?[0-9]*", api_version):
        msg = f"PARLEY_GEMINI_API_VERSION must look like v1beta or v1, not {api_version!r}"
        raise ConfigError(msg)
    thinking = get("PARLEY_GEMINI_THINKING_BUDGET")
    return GeminiSettings(
        api_key=get("GOOGLE_API_KEY") or get("GEMINI_API_KEY") or None,
        model=model,
        base_url=base_url,
        api_version=api_version,
        timeout_ms=timeout_ms,
        deadline_ms=deadline_ms,
        retries=number("PARLEY_GEMINI_RETRIES", defaults.retries, 0, 10),
        backoff_ms=number("PARLEY_GEMINI_BACKOFF_MS", defaults.backoff_ms, 1, 60_000),
        backoff_max_ms=number("PARLEY_GEMINI_BACKOFF_MAX_MS", defaults.backoff_max_ms, 1, 600_000),
        breaker_failures=number(
            "PARLEY_GEMINI_BREAKER_FAILURES", defaults.breaker_failures, 1, 1000
        ),
        breaker_open_ms=number(
            "PARLEY_GEMINI_BREAKER_OPEN_MS", defaults.breaker_open_ms, 1, 3_600_000
        ),
        max_concurrency=number("PARLEY_GEMINI_MAX_CONCURRENCY", defaults.max_concurrency, 1, 256),
        history_turns=number("PARLEY_GEMINI_HISTORY_TURNS", defaults.history_turns, 0, 500),
        history_chars=number("PARLEY_GEMINI_HISTORY_CHARS", defaults.history_chars, 0, 1_000_000),
        thinking_budget=(
            number("PARLEY_GEMINI_THINKING_BUDGET", 0, 0, 32_768) if thinking else None
        ),
    )
