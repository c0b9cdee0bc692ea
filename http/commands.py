"""Running a write-side command from a handler: off the event loop, with the
domain's errors mapped to answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from parley.domain.application import ParleyApp
from parley.domain.errors import DomainError, InvalidEdit, NotFound
from parley.http import keys
from parley.http.errors import BadRequest, Conflict, Unauthorized
from parley.http.errors import NotFound as NotFoundError

T = TypeVar("T")


def operator(request: web.Request) -> str:
    name = request[keys.OPERATOR]
    if name is None:  # auth lets no anonymous request reach a command; be sure
        raise Unauthorized()
    return name


async def run(request: web.Request, command: Callable[[ParleyApp], T]) -> T:
    """Runs `command` against the write side in a worker thread (the library is
    synchronous); a refusal by the domain becomes 400, 404 or 409."""
    app = request.app[keys.PARLEY]
    try:
        return await asyncio.to_thread(command, app)
    except NotFound as exc:
        raise NotFoundError(f"not found: {exc}") from None
    except InvalidEdit as exc:
        raise BadRequest(str(exc)) from None
    except DomainError as exc:
        raise Conflict(f"{type(exc).__name__}: {exc}") from None
