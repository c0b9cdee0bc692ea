from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo import MongoClient
from testkit.mongo import session_uri, unique_database_name


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    """The session's one embedded database server."""
    return session_uri()


@pytest.fixture
def database_name(request: pytest.FixtureRequest, mongo_uri: str) -> Iterator[str]:
    """A database of this test's own, dropped afterwards."""
    name = unique_database_name(request.node.name)
    yield name
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def bind_mongo(request: pytest.FixtureRequest, mongo_uri: str, database_name: str) -> None:
    """Hands the server and a fresh database to unittest-style test classes."""
    request.cls.mongo_uri = mongo_uri
    request.cls.database_name = database_name
