"""Every piece of application state, each under one typed key.

Handlers and middlewares read state only through these keys, so what an
`aiohttp` application holds is listed here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from parley.domain.application import ParleyApp
from parley.http.auth import TokenSet
from parley.http.config import ApiConfig
from parley.http.metrics import RequestMetrics
from parley.http.ratelimit import RateLimiter
from pymongo.asynchronous.database import AsyncDatabase

Clock = Callable[[], datetime]

CONFIG = web.AppKey("config", ApiConfig)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
TOKENS = web.AppKey("tokens", TokenSet)
LIMITER = web.AppKey("limiter", RateLimiter)
REQUEST_METRICS = web.AppKey("request_metrics", RequestMetrics)
# Routes reachable without a token: (method, canonical path).
PUBLIC_ROUTES = web.AppKey("public_routes", frozenset[tuple[str, str]])
# Pages mounted beside the dashboard (the simulator), for its navigation: name -> href.
PAGES = web.AppKey("pages", dict[str, str])
# Set by the cleanup contexts in parley.http.resources.
DATABASE = web.AppKey("database", AsyncDatabase[dict[str, Any]])
PARLEY = web.AppKey("parley", ParleyApp)

# Per request: who made it (an operator name), or None for no valid token.
OPERATOR: web.RequestKey[str | None] = web.RequestKey("operator")
# The OpenAPI document, built once from the route table.
OPENAPI = web.AppKey("openapi", dict[str, Any])
