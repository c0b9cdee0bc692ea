"""Pages mounted beside the dashboard, such as the simulator (`parley.http.simulator`).

`create_app(config, extensions=[...])` calls each one's `mount` after the API's own
routes, and lists its page in the dashboard's navigation (through /api/v1/health).
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web


class Extension(Protocol):
    name: str  # shown in the dashboard's navigation
    href: str  # where its page is, e.g. "/simulator/"
    # Routes reachable without a token, as (method, route template) pairs: its
    # page itself, at least (a browser navigation cannot send a bearer header).
    public_routes: frozenset[tuple[str, str]]

    def mount(self, app: web.Application) -> None:
        """Adds the extension's routes (and cleanup contexts, if it has any)."""
