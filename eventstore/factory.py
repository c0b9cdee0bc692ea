"""The infrastructure factory the `eventsourcing` library finds through its
`PERSISTENCE_MODULE` setting (`PERSISTENCE_MODULE=parley.eventstore`).

Settings, read from the application's environment (prefixable by application
name, as the library does):

| name | meaning | default |
| --- | --- | --- |
| `MONGODB_URI` | where the replica set is | required |
| `MONGODB_DATABASE` | database name | `eventsourcing` |
| `MONGODB_LOG` | which numbered log this application writes | `main` |
| `MONGODB_POLL_INTERVAL` | seconds a follower waits before polling anyway | `1.0` |
| `MONGODB_FOLLOW_SETTLE` | seconds a woken follower lets writes land before it reads | `0.25` |
| `MONGODB_TRANSACTION_TIMEOUT` | seconds a transaction keeps retrying | `30` |
| `CREATE_TABLE` | create indexes on start | `yes` |

Collections are named after the application, as the library's own modules name
their tables: `<app>_events`, `<app>_snapshots`, `<app>_tracking`.
"""

from __future__ import annotations

from typing import Any, cast

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.recorders import (
    DEFAULT_LOG,
    MongoAggregateRecorder,
    MongoApplicationRecorder,
    MongoProcessRecorder,
    MongoTrackingRecorder,
)
from parley.eventstore.transcoder import OrjsonTranscoder


class MongoFactory(InfrastructureFactory[MongoTrackingRecorder]):
    """Constructs MongoDB recorders for an `eventsourcing` application."""

    MONGODB_URI = "MONGODB_URI"
    MONGODB_DATABASE = "MONGODB_DATABASE"
    MONGODB_LOG = "MONGODB_LOG"
    MONGODB_POLL_INTERVAL = "MONGODB_POLL_INTERVAL"
    MONGODB_FOLLOW_SETTLE = "MONGODB_FOLLOW_SETTLE"
    MONGODB_TRANSACTION_TIMEOUT = "MONGODB_TRANSACTION_TIMEOUT"
    CREATE_TABLE = "CREATE_TABLE"

    aggregate_recorder_class = MongoAggregateRecorder
    application_recorder_class = MongoApplicationRecorder
    tracking_recorder_class = MongoTrackingRecorder
    process_recorder_class = MongoProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        uri = self.env.get(self.MONGODB_URI)
        if not uri:
            msg = f"set {self.MONGODB_URI} to use the MongoDB persistence module"
            raise OSError(msg)
        self.log_name = self.env.get(self.MONGODB_LOG) or DEFAULT_LOG
        self.poll_interval = float(self.env.get(self.MONGODB_POLL_INTERVAL) or 1.0)
        self.follow_settle = float(self.env.get(self.MONGODB_FOLLOW_SETTLE) or 0.25)
        self.datastore = MongoDatastore(
            uri,
            self.env.get(self.MONGODB_DATABASE) or "eventsourcing",
            transaction_timeout=float(self.env.get(self.MONGODB_TRANSACTION_TIMEOUT) or 30),
        )

    def close(self) -> None:
        self.datastore.close()

    def transcoder(self) -> Transcoder:
        topic = self.env.get(self.TRANSCODER_TOPIC)
        transcoder_class: type[Transcoder] = resolve_topic(topic) if topic else OrjsonTranscoder
        return transcoder_class()

    def _create_indexes(self) -> bool:
        return strtobool(self.env.get(self.CREATE_TABLE) or "yes")

    def _prefix(self, default: str) -> str:
        return self.env.name.lower() or default

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = self.aggregate_recorder_class(
            self.datastore, f"{self._prefix('stored')}_{purpose}"
        )
        if self._create_indexes():
            recorder.create_indexes()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        recorder_class: type[MongoApplicationRecorder] = (
            resolve_topic(topic) if topic else self.application_recorder_class
        )
        recorder = recorder_class(
            self.datastore,
            f"{self._prefix('stored')}_events",
            log_name=self.log_name,
            poll_interval=self.poll_interval,
            follow_settle=self.follow_settle,
        )
        if self._create_indexes():
            recorder.create_indexes()
        return recorder

    def tracking_recorder(
        self, tracking_recorder_class: type[MongoTrackingRecorder] | None = None
    ) -> MongoTrackingRecorder:
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = (
                resolve_topic(topic) if topic else self.tracking_recorder_class
            )
        assert tracking_recorder_class is not None
        recorder = tracking_recorder_class(
            self.datastore, f"{self._prefix('notification')}_tracking"
        )
        if self._create_indexes():
            recorder.create_indexes()
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        recorder_class: type[MongoProcessRecorder] = (
            resolve_topic(topic) if topic else self.process_recorder_class
        )
        recorder = recorder_class(
            self.datastore,
            f"{self._prefix('stored')}_events",
            f"{self._prefix('notification')}_tracking",
            log_name=self.log_name,
            poll_interval=self.poll_interval,
            follow_settle=self.follow_settle,
        )
        if self._create_indexes():
            recorder.create_indexes()
        return cast(ProcessRecorder, recorder)


def factory_settings(uri: str, database: str, **extra: Any) -> dict[str, str]:
    """The environment that selects this module for an application."""
    settings = {
        "PERSISTENCE_MODULE": "parley.eventstore",
        MongoFactory.MONGODB_URI: uri,
        MongoFactory.MONGODB_DATABASE: database,
    }
    settings.update({key: str(value) for key, value in extra.items()})
    return settings
