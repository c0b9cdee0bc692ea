from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo.database import Database
from testkit.chat_log import Chats, open_chats
from testkit.databases import open_database
from testkit.local_http import serve
from testkit.webhook_receiver import SECRET, WebhookReceiver


@pytest.fixture
def db(mongo_uri: str, database_name: str) -> Iterator[Database[dict[str, Any]]]:
    with open_database(mongo_uri, database_name) as database:
        yield database


@pytest.fixture
def chats(mongo_uri: str, database_name: str) -> Iterator[Chats]:
    app = open_chats(mongo_uri, database_name)
    yield app
    app.close()


@pytest.fixture
def receiver() -> WebhookReceiver:
    return WebhookReceiver(secret=SECRET)


@pytest.fixture
async def receiver_url(receiver: WebhookReceiver) -> AsyncIterator[str]:
    async with serve(receiver.app()) as base:
        yield base + "/hooks/parley"
