from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from parley.http.app import create_app
from parley.http.config import ApiConfig
from pymongo import MongoClient
from pymongo.database import Database
from testkit.api import SettableClock, api_config
from testkit.seeding import EPOCH, ensure_indexes


@pytest.fixture
def db(mongo_uri: str, database_name: str) -> Iterator[Database[dict[str, Any]]]:
    """The test's database, with the read models' indexes, for seeding."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    database = client[database_name]
    ensure_indexes(database)
    yield database
    client.close()


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(EPOCH + timedelta(hours=1))


@pytest.fixture
def config(mongo_uri: str, database_name: str) -> ApiConfig:
    return api_config(mongo_uri, database_name)


@pytest.fixture
async def client(config: ApiConfig, clock: SettableClock) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(config, clock=clock))) as test_client:
        yield test_client
