"""One route table drives both the router and the OpenAPI document.

A `Route` declares its method, path, parameters, body and answers; `bind` wraps
its handler so every declared value is parsed and checked before the handler
runs, and `openapi.document` describes the same declarations. What is served and
what is documented cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from parley.http.errors import ApiError
from parley.http.schemas import Schema
from parley.http.validation import Body, Spec, parse_body, parse_path, parse_query

Args = dict[str, Any]
RouteHandler = Callable[[web.Request, Args], Awaitable[web.StreamResponse]]


class UnsupportedMediaType(ApiError):
    """Raised when a body is sent as something other than application/json."""

    status = 415


@dataclass(frozen=True)
class Answer:
    """A documented successful answer."""

    status: int
    description: str
    schema: Schema | None = None
    content_type: str = "application/json"
    also: tuple[int, ...] = ()  # other statuses answered with the same shape (health: 503)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    handler: RouteHandler
    answer: Answer
    path_params: tuple[Spec, ...] = ()
    query: tuple[Spec, ...] = ()
    body: Body | None = None
    public: bool = False  # reachable without a token
    errors: tuple[int, ...] = ()  # statuses beyond the ones every route may answer
    description: str = ""

    def statuses(self) -> tuple[int, ...]:
        """Every status this route may answer, in order."""
        found = {self.answer.status, *self.answer.also, 400, 429, *self.errors}
        if not self.public:
            found.add(401)
        if self.path_params:
            found.add(404)
        if self.body is not None:
            found.update((413, 415))
        return tuple(sorted(found))


def bind(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of a route: validation first, then the route's handler."""

    async def handler(request: web.Request) -> web.StreamResponse:
        args = parse_path(route.path_params, request.match_info)
        args.update(parse_query(route.query, request.query))
        if route.body is not None:
            if request.content_type != "application/json":
                raise UnsupportedMediaType("send the body as application/json")
            args["body"] = parse_body(route.body.fields, await request.read())
        return await route.handler(request, args)

    handler.__name__ = route.operation_id
    return handler


def register(app: web.Application, routes: Sequence[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, bind(route), name=route.operation_id)
