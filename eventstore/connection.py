"""Finding the database: the configured replica set, or the embedded server."""

from __future__ import annotations

from pathlib import Path

from parley.eventstore.datastore import Document, check_replica_set
from parley.eventstore.embedded import EmbeddedServer
from pymongo import MongoClient


def database_uri(data_dir: Path, configured_uri: str | None) -> str:
    """The configured URI, or the embedded server's (started if need be)."""
    if configured_uri:
        return configured_uri
    return EmbeddedServer(data_dir).ensure_running()


def open_client(uri: str, *, timeout_ms: int = 5_000) -> MongoClient[Document]:
    """A client that has been checked to reach a replica set.

    Raises DatabaseSetupError, with one line to show, when it cannot.
    """
    client: MongoClient[Document] = MongoClient(
        uri,
        uuidRepresentation="standard",
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        appname="parley",
    )
    try:
        check_replica_set(client, uri)
    except Exception:
        client.close()
        raise
    return client
