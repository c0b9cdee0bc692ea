"""`create_app`: the query API, the operator dashboard and any mounted pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from aiohttp import web
from parley.http import dashboard, keys, openapi, resources, routing
from parley.http.auth import TokenSet
from parley.http.config import ApiConfig
from parley.http.extensions import Extension
from parley.http.headers import secure_headers
from parley.http.metrics import RequestMetrics
from parley.http.middlewares import middlewares
from parley.http.ratelimit import RateLimiter
from parley.http.routes import ROUTES
from parley.http.routing import Route


def utc_now() -> datetime:
    return datetime.now(UTC)


def public_routes(routes: Iterable[Route]) -> frozenset[tuple[str, str]]:
    public = {(route.method, route.path) for route in routes if route.public}
    public.add(("GET", dashboard.STATIC_PREFIX))
    public |= {("HEAD", path) for method, path in list(public) if method == "GET"}
    return frozenset(public)


def create_app(
    config: ApiConfig,
    *,
    clock: keys.Clock = utc_now,
    extensions: Sequence[Extension] = (),
) -> web.Application:
    app = web.Application(
        middlewares=middlewares(config.api.cors_origins),
        client_max_size=config.api.max_body_bytes,
    )
    app[keys.CONFIG] = config
    app[keys.CLOCK] = clock
    app[keys.TOKENS] = TokenSet(config.tokens)
    app[keys.LIMITER] = RateLimiter(config.api.rate_per_second, config.api.burst)
    app[keys.REQUEST_METRICS] = RequestMetrics()
    app[keys.OPENAPI] = openapi.document(ROUTES)

    app.cleanup_ctx.append(resources.database)
    app.cleanup_ctx.append(resources.parley)

    routing.register(app, ROUTES)
    dashboard.add_static(app)

    # Pages beside the dashboard mount here, after the API's own routes. The
    # simulator page (parley.http.simulator) is one: pass it in `extensions`.
    public = set(public_routes(ROUTES))
    pages: dict[str, str] = {}
    for extension in extensions:
        extension.mount(app)
        public |= extension.public_routes
        pages[extension.name] = extension.href
    app[keys.PUBLIC_ROUTES] = frozenset(public)
    app[keys.PAGES] = pages

    app.on_response_prepare.append(secure_headers)
    return app
