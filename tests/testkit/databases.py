"""A pymongo handle on a test's own database, as Parley's processes open one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database


@contextmanager
def open_database(uri: str, name: str) -> Iterator[Database[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, uuidRepresentation="standard", tz_aware=True, serverSelectionTimeoutMS=10_000
    )
    try:
        yield client[name]
    finally:
        client.close()
