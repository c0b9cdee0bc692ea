"""Parley's settings: environment variables prefixed `PARLEY_`, and a `.env` file.

Every value is checked here, once, so a mistake reads as one line naming the
variable, before any process starts work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TRANSPORTS = ("simulator", "web", "cloud")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ConfigError(Exception):
    """Raised when a setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    mongodb_uri: str | None  # None: start the embedded database under data_dir
    database: str
    log_name: str  # the numbered event log this deployment writes
    account: str  # the WhatsApp account this bridge serves
    transport: str
    api_host: str
    api_port: int
    api_tokens: tuple[str, ...]
    timezone: str
    gemini_api_key: str | None
    gemini_model: str
    gemini_base_url: str | None
    log_level: str
    # Everything the process was configured with (.env under the environment), for
    # the parts that parse their own variables.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def embedded(self) -> bool:
        return self.mongodb_uri is None

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments; optional quotes. No interpolation."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            msg = f"{path}:{number}: expected KEY=VALUE"
            raise ConfigError(msg)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Settings from `environ` (default: the process environment) over `env_file`."""
    env: dict[str, str] = read_env_file(env_file) if env_file is not None else {}
    env.update(os.environ if environ is None else environ)

    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip()

    transport = get("PARLEY_TRANSPORT", "simulator").lower()
    if transport not in TRANSPORTS:
        msg = f"PARLEY_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {transport!r}"
        raise ConfigError(msg)
    timezone = get("PARLEY_TIMEZONE", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"PARLEY_TIMEZONE {timezone!r} is not a known time zone (try Europe/London)"
        raise ConfigError(msg) from None
    uri = get("PARLEY_MONGODB_URI") or None
    if uri is not None and not uri.startswith(("mongodb://", "mongodb+srv://")):
        msg = "PARLEY_MONGODB_URI must start with mongodb:// or mongodb+srv://"
        raise ConfigError(msg)
    level = get("PARLEY_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        msg = f"PARLEY_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}"
        raise ConfigError(msg)
    tokens = tuple(token.strip() for token in get("PARLEY_API_TOKENS").split(",") if token.strip())
    if any(len(token) < 16 for token in tokens):
        msg = "PARLEY_API_TOKENS: each token must be at least 16 characters"
        raise ConfigError(msg)
    return Settings(
        data_dir=Path(get("PARLEY_DATA_DIR", ".parley")),
        mongodb_uri=uri,
        database=_name("PARLEY_DATABASE", get("PARLEY_DATABASE", "parley")),
        log_name=_name("PARLEY_LOG_NAME", get("PARLEY_LOG_NAME", "main")),
        account=_name("PARLEY_ACCOUNT", get("PARLEY_ACCOUNT", "default")),
        transport=transport,
        api_host=get("PARLEY_API_HOST", "127.0.0.1"),
        api_port=_port("PARLEY_API_PORT", get("PARLEY_API_PORT", "8080")),
        api_tokens=tokens,
        timezone=timezone,
        # The SDK itself prefers GOOGLE_API_KEY when both are set; so do we.
        gemini_api_key=get("GOOGLE_API_KEY") or get("GEMINI_API_KEY") or None,
        gemini_model=get("PARLEY_GEMINI_MODEL", "gemini-2.5-flash"),
        gemini_base_url=get("PARLEY_GEMINI_BASE_URL") or None,
        log_level=level,
        environ=env,
    )


def _name(variable: str, value: str) -> str:
    if not _NAME.match(value):
        msg = f"{variable} must be 1-64 letters, digits, '-' or '_', not {value!r}"
        raise ConfigError(msg)
    return value


def _port(variable: str, value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        msg = f"{variable} must be a port number (0-65535), not {value!r}"
        raise ConfigError(msg)
    return int(value)
