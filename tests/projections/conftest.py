"""The read-side tests share one generated history, written once per session
while a projector follows it live; tests that need read models of their own
copy its log into their own database."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from parley.domain.application import ParleyApp
from parley.projections.runner import Projector
from parley.projections.settings import ProjectorSettings
from pymongo import MongoClient
from testkit.history import write_history
from testkit.live import HISTORY_CONVERSATIONS, HISTORY_EVENTS, LiveHistory, positions
from testkit.mongo import unique_database_name
from testkit.readmodels import copy_log, make_app, wait_for


@pytest.fixture(scope="session")
def live_history(mongo_uri: str) -> Iterator[LiveHistory]:
    """A history of over 5,000 events over 110 conversations, projected live:
    a projector follows the log while the history is written."""
    name = unique_database_name("history")
    writer = make_app(mongo_uri, name)
    # No settle before each read: the projector follows every commit, in as many
    # small batches as the writes make (the harder case for rebuild equality).
    follower = make_app(mongo_uri, name, MONGODB_POLL_INTERVAL=0.2, MONGODB_FOLLOW_SETTLE=0)
    projector = Projector(
        follower, ProjectorSettings(batch_size=200, lease_seconds=30, poll_interval=0.2)
    )
    thread = threading.Thread(target=projector.run, name="live-projector", daemon=True)
    thread.start()
    try:
        report = write_history(
            writer, events=HISTORY_EVENTS, conversations=HISTORY_CONVERSATIONS, seed=11
        )
        wait_for(
            lambda: min(positions(writer)) >= report.events,
            timeout=120,
            what="the live projector to catch up",
        )
    finally:
        projector.stop()
        thread.join(timeout=30)
        follower.close()
    yield LiveHistory(mongo_uri, name, writer, report, projector.batches_committed)
    writer.close()
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    client.drop_database(name)
    client.close()


@pytest.fixture
def log_copy(live_history: LiveHistory, mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    """An app over a fresh database holding a copy of the history's log and no
    read models."""
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri, uuidRepresentation="standard")
    copy_log(client, live_history.database, database_name)
    client.close()
    app = make_app(mongo_uri, database_name)
    yield app
    app.close()
