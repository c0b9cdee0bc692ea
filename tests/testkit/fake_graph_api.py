"""A local stand-in for the Graph API's messages endpoint.

It checks each send request as Meta would (path, bearer token, JSON shape),
keeps every request it saw, and answers from a script: errors on demand, then
success with a fresh WhatsApp message id.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict[str, Any] | None = None  # None on success: a fresh message id
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the server stops)
    delay: float = 0.0  # seconds before answering


@dataclass(frozen=True)
class SeenRequest:
    path: str
    authorization: str
    body: dict[str, Any]


def meta_error(message: str, code: int, details: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGh123",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


class FakeGraphApi:
    def __init__(self, *, version: str, phone_number_id: str, access_token: str) -> None:
        self.path = f"/{version}/{phone_number_id}/messages"
        self.access_token = access_token
        self.requests: list[SeenRequest] = []
        self.script: list[Answer] = []
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        return app

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {"unparseable": raw.decode("utf-8", "replace")}
        self.requests.append(
            SeenRequest(request.path, request.headers.get("Authorization", ""), body)
        )
        if request.path != self.path:
            return web.json_response(meta_error("Unsupported post request", 100), status=400)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return web.json_response(
                meta_error("Error validating access token: Session has expired", 190),
                status=401,
            )
        problem = shape_problem(body)
        if problem:
            return web.json_response(meta_error(problem, 100), status=400)
        answer = self.script.pop(0) if self.script else Answer()
        if answer.hang:
            await asyncio.sleep(3600)
        await asyncio.sleep(answer.delay)
        if answer.body is not None or answer.status != 200:
            return web.json_response(
                answer.body or {}, status=answer.status, headers=answer.headers
            )
        wamid = f"wamid.HBgLMTU1NTAxMjM0NTY3FQIAERgS{next(self._ids):06d}"
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )


def shape_problem(body: Any) -> str:
    """What is wrong with a text send request, or ""."""
    if not isinstance(body, dict):
        return "body must be an object"
    if body.get("messaging_product") != "whatsapp":
        return "(#100) The parameter messaging_product is required."
    if not isinstance(body.get("to"), str) or not re.fullmatch(r"\d{5,20}", body["to"]):
        return "(#100) Invalid parameter: to"
    if body.get("type") != "text":
        return "(#100) Invalid parameter: type"
    text = body.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
        return "(#100) The parameter text['body'] is required."
    allowed = {
        "messaging_product",
        "recipient_type",
        "to",
        "type",
        "text",
        "context",
        "biz_opaque_callback_data",
    }
    if set(body) - allowed:
        return f"(#100) Unexpected key(s): {sorted(set(body) - allowed)}"
    context = body.get("context")
    if context is not None and (
        not isinstance(context, dict) or not isinstance(context.get("message_id"), str)
    ):
        return "(#100) Invalid parameter: context.message_id"
    opaque = body.get("biz_opaque_callback_data")
    if opaque is not None and (not isinstance(opaque, str) or len(opaque) > 512):
        return "(#100) Invalid parameter: biz_opaque_callback_data"
    return ""
