from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from parley.bridge.cloud_api import CloudApiConfig, CloudApiTransport, create_webhook_app
from pymongo.database import Database
from testkit.cloud_rig import (
    ACCESS_TOKEN,
    APP_SECRET,
    START,
    VERIFY_TOKEN,
    CloudRig,
    FakeClock,
    PauseRecorder,
)
from testkit.databases import open_database
from testkit.fake_graph_api import FakeGraphApi
from testkit.local_http import serve
from testkit.meta_webhooks import PHONE_NUMBER_ID
from testkit.recording_sink import RecordingSink


@pytest.fixture
def db(mongo_uri: str, database_name: str) -> Iterator[Database[dict[str, Any]]]:
    with open_database(mongo_uri, database_name) as database:
        yield database


@pytest.fixture
async def rig(db: Database[dict[str, Any]]) -> AsyncIterator[CloudRig]:
    graph = FakeGraphApi(
        version="v21.0", phone_number_id=PHONE_NUMBER_ID, access_token=ACCESS_TOKEN
    )
    async with serve(graph.app()) as graph_url:
        config = CloudApiConfig(
            phone_number_id=PHONE_NUMBER_ID,
            access_token=ACCESS_TOKEN,
            app_secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            graph_url=graph_url,
            api_version="v21.0",
            send_timeout=3.0,
            send_attempts=4,
        )
        clock = FakeClock(START)
        pauses = PauseRecorder()
        transport = CloudApiTransport(config, db, account="acme", clock=clock, sleep=pauses)
        sink = RecordingSink()
        await transport.start(sink)
        async with serve(create_webhook_app(transport)) as base, aiohttp.ClientSession() as http:
            yield CloudRig(
                transport, sink, graph, clock, pauses, base + config.webhook_path, http, db
            )
        await transport.stop()
