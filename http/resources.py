"""The long-lived resources of the API, one cleanup context each: create, store under
its key, yield while the application runs, then close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC

from aiohttp import web
from parley.domain.application import ParleyApp
from parley.eventstore.factory import factory_settings
from parley.http import keys
from pymongo import AsyncMongoClient

log = logging.getLogger(__name__)


async def database(app: web.Application) -> AsyncIterator[None]:
    """An asyncio MongoDB client for the read models."""
    config = app[keys.CONFIG]
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        config.mongodb_uri,
        uuidRepresentation="standard",
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=5_000,
        appname="parley-api",
    )
    app[keys.DATABASE] = client.get_database(config.settings.database)
    try:
        yield
    finally:
        await client.close()


async def parley(app: web.Application) -> AsyncIterator[None]:
    """The write side, for operator commands. Synchronous: used through to_thread."""
    config = app[keys.CONFIG]
    env = factory_settings(
        config.mongodb_uri, config.settings.database, MONGODB_LOG=config.settings.log_name
    )
    parley_app = await asyncio.to_thread(ParleyApp, env)
    app[keys.PARLEY] = parley_app
    try:
        yield
    finally:
        await asyncio.to_thread(parley_app.close)
