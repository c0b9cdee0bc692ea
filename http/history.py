"""The log, read back: a conversation's event history (the audit) and a thread or
contact as it was at a past time or log position (time travel). Both read the
event store through `parley.projections` in a worker thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aiohttp import web
from parley.domain.application import ParleyApp
from parley.http import commands, keys
from parley.http.errors import BadRequest
from parley.http.responses import json_response
from parley.http.routing import Args
from parley.projections.audit import conversation_history, parse_chat
from parley.projections.errors import InvalidChat
from parley.projections.time_travel import contact_as_of, thread_as_of


async def audit(request: web.Request, args: Args) -> web.StreamResponse:
    try:
        chat_id = parse_chat(args["chat"])
    except InvalidChat as exc:
        raise BadRequest(str(exc)) from None
    account: str = args.get("account") or request.app[keys.CONFIG].account
    as_of: datetime | None = args.get("as_of")
    after: int = args["after"]
    limit: int = args["limit"]

    def read(app: ParleyApp) -> list[dict[str, Any]]:
        entries = conversation_history(app, account, chat_id, as_of)
        return [entry.to_json() for entry in entries if entry.position > after][: limit + 1]

    entries = await commands.run(request, read)
    more = len(entries) > limit
    entries = entries[:limit]
    return json_response(
        {
            "account": account,
            "chat_id": chat_id,
            "as_of": as_of,
            "items": entries,
            "next_after": entries[-1]["position"] if more else None,
        }
    )


async def thread_then(request: web.Request, args: Args) -> web.StreamResponse:
    thread_id = UUID(args["thread_id"])
    at, position = args.get("at"), args.get("position")
    state = await commands.run(
        request, lambda app: thread_as_of(app, thread_id, at=at, position=position)
    )
    return json_response(state)


async def contact_then(request: web.Request, args: Args) -> web.StreamResponse:
    contact_id = UUID(args["contact_id"])
    at, position = args.get("at"), args.get("position")
    state = await commands.run(
        request, lambda app: contact_as_of(app, contact_id, at=at, position=position)
    )
    return json_response(state)
