"""The API on a real local port, in a thread of its own, for clients that are not
asyncio (schemathesis, a browser, another process)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from parley.http.app import create_app
from parley.http.config import ApiConfig


@contextmanager
def live_api(config: ApiConfig, **create_kwargs: Any) -> Iterator[str]:
    """Serves `create_app(config)` on 127.0.0.1 and yields its base URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(create_app(config, **create_kwargs), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        server = site._server  # aiohttp exposes the bound port only here
        assert server is not None
        state["port"] = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:
            state["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(state["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="live-api", daemon=True)
    thread.start()
    if not started.wait(timeout=60):
        raise TimeoutError("the API did not start within 60 s")
    if "error" in state:
        raise state["error"]
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
