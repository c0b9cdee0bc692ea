"""Opening the write side's application from Parley's settings."""

from __future__ import annotations

from parley.domain.application import ParleyApp
from parley.eventstore.connection import database_uri, open_client
from parley.eventstore.factory import MongoFactory, factory_settings
from parley.tools.config import Settings


def open_app(settings: Settings, *, poll_interval: float | None = None) -> ParleyApp:
    """The application over the configured database (the embedded one, started
    if need be); raises DatabaseSetupError with one line if it cannot be used."""
    uri = database_uri(settings.data_dir, settings.mongodb_uri)
    open_client(uri).close()  # refuses an unreachable server or a standalone one
    extra: dict[str, object] = {MongoFactory.MONGODB_LOG: settings.log_name}
    if poll_interval is not None:
        extra[MongoFactory.MONGODB_POLL_INTERVAL] = poll_interval
    return ParleyApp(env=factory_settings(uri, settings.database, **extra))
