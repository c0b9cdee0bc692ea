"""The operator dashboard: one HTML page and its static files, all served from here."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from parley.http.routing import Args

STATIC = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"


async def index(request: web.Request, args: Args) -> web.StreamResponse:
    # The page holds no data (it asks the API with the operator's token), so it
    # is served without one; a browser navigation cannot send a bearer header.
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def add_static(app: web.Application) -> None:
    app.router.add_static(STATIC_PREFIX, STATIC, name="static", follow_symlinks=False)
