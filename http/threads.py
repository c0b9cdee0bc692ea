"""Threads: the list, one thread, its timeline, and the operator's commands on it."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web
from parley.domain.application import ParleyApp
from parley.http import commands, keys, readmodels
from parley.http.errors import NotFound
from parley.http.readmodels import ThreadFilters, public
from parley.http.responses import json_response
from parley.http.routing import Args


async def list_threads(request: web.Request, args: Args) -> web.StreamResponse:
    filters = ThreadFilters(
        account=args.get("account") or request.app[keys.CONFIG].account,
        state=args.get("state"),
        relationship=args.get("relationship"),
        updated_since=args.get("updated_since"),
    )
    page = await readmodels.list_threads(
        request.app[keys.DATABASE],
        filters,
        args.get("cursor"),
        args["limit"],
        request.app[keys.CLOCK](),
    )
    return json_response(
        {"items": [public(d) for d in page.items], "next_cursor": page.next_cursor}
    )


async def get_thread(request: web.Request, args: Args) -> web.StreamResponse:
    thread = await readmodels.get_thread(request.app[keys.DATABASE], args["thread_id"])
    if thread is None:
        raise NotFound(f"no thread {args['thread_id']}")
    return json_response(public(thread))


async def list_messages(request: web.Request, args: Args) -> web.StreamResponse:
    db = request.app[keys.DATABASE]
    thread_id = args["thread_id"]
    if await readmodels.get_thread(db, thread_id) is None:
        raise NotFound(f"no thread {thread_id}")
    page = await readmodels.list_messages(
        db, thread_id, args["after"], args["limit"], args.get("q")
    )
    return json_response({"items": [public(d) for d in page.items], "next_after": page.next_after})


async def pause(request: web.Request, args: Args) -> web.StreamResponse:
    by = commands.operator(request)
    at = request.app[keys.CLOCK]()
    reason = args["body"].get("reason", "")
    thread_id = UUID(args["thread_id"])

    def command(app: ParleyApp) -> None:
        app.pause_bot(thread_id, by=by, reason=reason, at=at)

    await commands.run(request, command)
    return json_response({"accepted": True, "by": by}, status=202)


async def resume(request: web.Request, args: Args) -> web.StreamResponse:
    by = commands.operator(request)
    at = request.app[keys.CLOCK]()
    thread_id = UUID(args["thread_id"])

    def command(app: ParleyApp) -> None:
        app.resume_bot(thread_id, by=by, at=at)

    await commands.run(request, command)
    return json_response({"accepted": True, "by": by}, status=202)


async def manual_reply(request: web.Request, args: Args) -> web.StreamResponse:
    by = commands.operator(request)
    at = request.app[keys.CLOCK]()
    body = args["body"]
    thread_id = UUID(args["thread_id"])

    def command(app: ParleyApp) -> str:
        return app.queue_manual_reply(
            thread_id, request_id=body["request_id"], text=body["text"], by=by, at=at
        )

    reply_id = await commands.run(request, command)
    return json_response({"accepted": True, "by": by, "reply_id": reply_id}, status=202)
