"""The account's persona: read from the write side (one aggregate), edited there."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web
from parley.domain.application import ParleyApp
from parley.domain.profiles import PersonaProfile
from parley.http import commands, keys
from parley.http.responses import json_response
from parley.http.routing import Args


def _shown(account: str, profile: PersonaProfile, defined: bool) -> dict[str, Any]:
    values = asdict(profile)
    values["services"] = list(profile.services)
    return {"account": account, "defined": defined, **values}


async def get_persona(request: web.Request, args: Args) -> web.StreamResponse:
    account = request.app[keys.CONFIG].account
    persona = await commands.run(request, lambda app: app.get_persona(account))
    if persona is None:
        return json_response(_shown(account, PersonaProfile(), defined=False))
    return json_response(_shown(account, persona.profile, defined=True))


async def put_persona(request: web.Request, args: Args) -> web.StreamResponse:
    by = commands.operator(request)
    at = request.app[keys.CLOCK]()
    account = request.app[keys.CONFIG].account
    body: dict[str, Any] = args["body"]
    defaults = PersonaProfile()
    profile = PersonaProfile(
        name=body["name"],
        owner_name=body.get("owner_name", defaults.owner_name),
        organisation=body.get("organisation", defaults.organisation),
        services=tuple(body.get("services", defaults.services)),
        instructions=body.get("instructions", defaults.instructions),
        tone=body.get("tone", defaults.tone),
    )

    def command(app: ParleyApp) -> int:
        return int(app.set_persona(account, profile, by=by, at=at).version)

    version = await commands.run(request, command)
    return json_response({"accepted": True, "by": by, "version": version}, status=202)
