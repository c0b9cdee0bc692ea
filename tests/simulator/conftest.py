from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from parley.bridge.simulator import SimulatorTransport
from parley.http.simulator import add_simulator_routes
from pymongo.database import Database
from testkit.databases import open_database
from testkit.echo_sink import EchoSink
from testkit.local_http import serve

ACCOUNT = "acme"


@pytest.fixture
def db(mongo_uri: str, database_name: str) -> Iterator[Database[dict[str, Any]]]:
    with open_database(mongo_uri, database_name) as database:
        yield database


@pytest.fixture
async def api_url(db: Database[dict[str, Any]]) -> AsyncIterator[str]:
    """The API process's side: the simulator routes on a real socket."""
    app = web.Application()
    add_simulator_routes(app, db, account=ACCOUNT, poll_interval=0.5)
    async with serve(app) as base:
        yield base


@pytest.fixture
async def echo(db: Database[dict[str, Any]]) -> AsyncIterator[EchoSink]:
    """The bridge process's side: the transport, answered by an echo."""
    transport = SimulatorTransport(db, account=ACCOUNT, poll_interval=0.5)
    sink = EchoSink(transport)
    await transport.start(sink)
    yield sink
    await transport.stop()
