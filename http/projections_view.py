"""Where each projection stands, for health and metrics: its position in the log,
how far behind it is, and whether a projector is applying it."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from parley.http import keys
from parley.projections.audit import events_recorder
from parley.projections.status import projection_status


async def projections(request: web.Request) -> list[dict[str, Any]]:
    """`[{name, position, lag, running}]`, one per projection (a blocking read of
    the checkpoints and leases, done in a worker thread)."""
    app = request.app[keys.PARLEY]
    recorder = events_recorder(app)

    def read() -> list[dict[str, Any]]:
        return projection_status(recorder.datastore.db, recorder, now=request.app[keys.CLOCK]())

    rows = await asyncio.to_thread(read)
    # Who holds a lease (host and process) is kept off this public answer.
    return [
        {
            "name": row["name"],
            "position": row["position"],
            "lag": row["lag"],
            "running": row["holder"] is not None,
        }
        for row in rows
    ]
