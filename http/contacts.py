"""Contacts: the list, one contact, and the operator's profile edit."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web
from parley.domain.application import ParleyApp
from parley.domain.profiles import CustomContext, Relationship
from parley.http import commands, keys, readmodels
from parley.http.errors import BadRequest, NotFound
from parley.http.readmodels import public
from parley.http.responses import json_response
from parley.http.routing import Args


async def list_contacts(request: web.Request, args: Args) -> web.StreamResponse:
    page = await readmodels.list_contacts(
        request.app[keys.DATABASE],
        account=args.get("account") or request.app[keys.CONFIG].account,
        relationship=args.get("relationship"),
        cursor=args.get("cursor"),
        limit=args["limit"],
        now=request.app[keys.CLOCK](),
    )
    return json_response(
        {"items": [public(d) for d in page.items], "next_cursor": page.next_cursor}
    )


async def get_contact(request: web.Request, args: Args) -> web.StreamResponse:
    contact = await readmodels.get_contact(request.app[keys.DATABASE], args["contact_id"])
    if contact is None:
        raise NotFound(f"no contact {args['contact_id']}")
    return json_response(public(contact))


async def edit_contact(request: web.Request, args: Args) -> web.StreamResponse:
    body: dict[str, Any] = args["body"]
    if not body:
        raise BadRequest("the body names no field to change")
    by = commands.operator(request)
    at = request.app[keys.CLOCK]()
    contact_id = UUID(args["contact_id"])
    custom = body.get("custom")

    def command(app: ParleyApp) -> int:
        contact = app.edit_contact(
            contact_id,
            by=by,
            at=at,
            name=body.get("name"),
            preferred_name=body.get("preferred_name"),
            relationship=Relationship(body["relationship"]) if "relationship" in body else None,
            priority=body.get("priority"),
            language=body.get("language"),
            custom=None
            if custom is None
            else CustomContext(
                personality=custom.get("personality", ""),
                communication_style=custom.get("communication_style", ""),
                topics=tuple(custom.get("topics", ())),
                emoji_preference=custom.get("emoji_preference", ""),
            ),
        )
        return int(contact.version)

    version = await commands.run(request, command)
    return json_response({"accepted": True, "by": by, "version": version}, status=202)
