"""The path of every request, outermost first (see `middlewares`):

1. errors   - every failure becomes one JSON answer with its status; our own
              bugs are logged with their traceback and answered 500. It also
              times each answer for /metrics, since it is the one place that
              sees them all.
2. cors     - only when origins are configured: answers preflights, and marks
              answers readable by an allowed origin.
3. limits   - names the client (its valid token, else its address) and takes
              one request from its bucket, or answers 429 with Retry-After.
              It runs before auth so guessing tokens is rate limited too.
4. auth     - protected routes need a valid bearer token.

Security headers are set on every response, errors included, by
`headers.secure_headers` (a response-prepare signal, not a middleware).
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from parley.http import keys
from parley.http.errors import ApiError, TooManyRequests, Unauthorized
from parley.http.ratelimit import retry_after_header
from parley.http.responses import error_response

log = logging.getLogger(__name__)


def route_name(request: web.Request) -> str:
    """The route template (`/api/v1/threads/{thread_id}`), not the path: bounded labels."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        # aiohttp's own answers: 404 and 405 from the router, 413 for a large body.
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        response = error_response(exc.status, exc.reason, headers)
    except Exception:
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        response = error_response(500, "internal error: it is logged; please report it")
    request.app[keys.REQUEST_METRICS].observe(
        route_name(request), request.method, response.status, time.perf_counter() - started
    )
    return response


def cors(origins: tuple[str, ...]) -> Middleware:
    allowed = frozenset(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin not in allowed:
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        return response

    return middleware


@web.middleware
async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    operator = request.app[keys.TOKENS].identify(request.headers.get("Authorization"))
    request[keys.OPERATOR] = operator
    client = operator or f"address:{request.remote or 'unknown'}"
    wait = request.app[keys.LIMITER].take(client)
    if wait > 0:
        raise TooManyRequests(retry_after_header(wait))
    return await handler(request)


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request[keys.OPERATOR] is None and not is_public(request):
        raise Unauthorized()
    return await handler(request)


def is_public(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    if resource is None:
        return False
    return (request.method, resource.canonical) in request.app[keys.PUBLIC_ROUTES]


def middlewares(cors_origins: tuple[str, ...]) -> list[Middleware]:
    """The middlewares in their fixed order; CORS only when origins are configured."""
    chain: list[Middleware] = [errors]
    if cors_origins:
        chain.append(cors(cors_origins))
    chain += [limits, auth]
    return chain
