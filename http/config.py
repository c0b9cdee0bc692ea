"""The API's own settings, beside the shared ones in `parley.tools.config.Settings`.

| variable | meaning | default |
| --- | --- | --- |
| `PARLEY_API_RATE` | requests per second per client (its token, else its address) | `20` |
| `PARLEY_API_BURST` | requests a client may make at once before the rate applies | `60` |
| `PARLEY_API_CORS_ORIGINS` | comma-separated origins that may call from a browser | none: off |
| `PARLEY_API_MAX_BODY` | largest request body accepted, in bytes | `262144` |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from parley.tools.config import ConfigError, Settings

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


@dataclass(frozen=True)
class ApiSettings:
    rate_per_second: float = 20.0
    burst: int = 60
    cors_origins: tuple[str, ...] = ()
    # The largest valid body (a persona of 50 services, every character escaped
    # as \uXXXX pairs in JSON) is about 180 KB.
    max_body_bytes: int = 262_144


@dataclass(frozen=True)
class ApiConfig:
    """Everything `create_app` needs: the shared settings, the API's own, and the
    database URI and tokens resolved at start-up."""

    settings: Settings
    api: ApiSettings
    mongodb_uri: str
    tokens: tuple[str, ...]

    @property
    def account(self) -> str:
        return self.settings.account


def from_env(environ: Mapping[str, str]) -> ApiSettings:
    """ApiSettings from PARLEY_API_* variables; raises ConfigError naming a bad one."""

    def get(name: str) -> str:
        return environ.get(name, "").strip()

    rate = _number("PARLEY_API_RATE", get("PARLEY_API_RATE") or "20", low=0.1, high=100_000)
    burst = int(_number("PARLEY_API_BURST", get("PARLEY_API_BURST") or "60", low=1, high=100_000))
    max_body = int(
        _number("PARLEY_API_MAX_BODY", get("PARLEY_API_MAX_BODY") or "262144", low=1024, high=2**24)
    )
    origins = tuple(
        o.strip().rstrip("/") for o in get("PARLEY_API_CORS_ORIGINS").split(",") if o.strip()
    )
    for origin in origins:
        if not _ORIGIN.match(origin):
            msg = (
                f"PARLEY_API_CORS_ORIGINS: {origin!r} is not an origin "
                "(scheme://host[:port], no path, no wildcard)"
            )
            raise ConfigError(msg)
    return ApiSettings(
        rate_per_second=rate, burst=burst, cors_origins=origins, max_body_bytes=max_body
    )


def _number(variable: str, value: str, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        msg = f"{variable} must be a number from {low:g} to {high:g}, not {value!r}"
        raise ConfigError(msg)
    return number
