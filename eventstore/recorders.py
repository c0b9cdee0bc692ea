"""The `eventsourcing` recorders, on MongoDB.

Documents and indexes:

* events: one document per stored event, `{originator_id, originator_version,
  topic, state}`; an application's events also carry `log`, `notification_id`
  and `recorded_at` (when the transaction ran: metadata for "as of" queries,
  never read by a rebuild). A unique index on (originator_id, originator_version) is
  the optimistic-concurrency check; a unique index on (log, notification_id)
  serves the notification log in bounded id windows.
* counters: `{_id: log, value: last notification id}`. Incremented in the
  same transaction as the inserts, so writers of one log serialise on it and
  positions become visible in order, without gaps.
* tracking: `{_id: upstream application name, notification_id}`, one document
  per upstream log, advanced only forwards, in the same transaction as the
  writes it tracks.
* keys: `{_id: key}`, unique keys claimed by a save (`save(..., unique_keys=[...])`)
  in the same transaction as its events: a second save claiming a key stores
  nothing and raises UniqueKeyTaken. Parley keys inbound messages by their
  WhatsApp id this way, so a redelivery records nothing.

A save may also name the WhatsApp `account` its events belong to; it is kept on
each event document, so a deployment can shard the events collection by it.

Saves made from several threads at once are written in groups, one transaction
per group (see `group_commit`); each save stays atomic and keeps its own outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from parley.eventstore.datastore import Document, MongoDatastore
from parley.eventstore.group_commit import GroupCommit, PendingSave
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import CollectionInvalid, DuplicateKeyError, OperationFailure, PyMongoError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_LOG = "main"
NAMESPACE_EXISTS = 48


class UniqueKeyTaken(IntegrityError):
    """Raised when a save claims a unique key an earlier save already claimed."""

    def __init__(self, key: str) -> None:
        super().__init__(f"unique key already claimed: {key}")
        self.key = key


class MongoAggregateRecorder(AggregateRecorder):
    """Stores and selects the events of aggregates (or their snapshots)."""

    def __init__(self, datastore: MongoDatastore, events_collection_name: str) -> None:
        self.datastore = datastore
        self.events_collection_name = events_collection_name
        self.events: Collection[Document] = datastore.db[events_collection_name]

    def create_indexes(self) -> None:
        with self.datastore.translated_errors():
            self.events.create_index(
                [("originator_id", ASCENDING), ("originator_version", ASCENDING)],
                unique=True,
                name="originator_version_unique",
            )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        documents = [self._event_document(event) for event in stored_events]
        if len(documents) == 1:
            with self.datastore.translated_errors():
                self.events.insert_one(documents[0])
        elif documents:
            self.datastore.transaction(
                lambda session: self.events.insert_many(documents, session=session)
            )
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        query: Document = {"originator_id": originator_id}
        version_range: Document = {}
        if gt is not None:
            version_range["$gt"] = gt
        if lte is not None:
            version_range["$lte"] = lte
        if version_range:
            query["originator_version"] = version_range
        with self.datastore.translated_errors():
            cursor = self.events.find(
                query, {"_id": 0, "originator_version": 1, "topic": 1, "state": 1}
            ).sort("originator_version", DESCENDING if desc else ASCENDING)
            if limit is not None:
                cursor = cursor.limit(limit)
            return [
                StoredEvent(
                    originator_id=originator_id,
                    originator_version=document["originator_version"],
                    topic=document["topic"],
                    state=document["state"],
                )
                for document in cursor
            ]

    @staticmethod
    def _event_document(event: StoredEvent) -> Document:
        return {
            "originator_id": event.originator_id,
            "originator_version": event.originator_version,
            "topic": event.topic,
            "state": event.state,
        }


class MongoApplicationRecorder(MongoAggregateRecorder, ApplicationRecorder):
    """Stores events in aggregate sequences and in one numbered log."""

    page_window_growth = 4

    def __init__(
        self,
        datastore: MongoDatastore,
        events_collection_name: str,
        *,
        log_name: str = DEFAULT_LOG,
        poll_interval: float = 1.0,
        follow_settle: float = 0.25,
    ) -> None:
        super().__init__(datastore, events_collection_name)
        self.log_name = log_name
        self.poll_interval = poll_interval
        self.follow_settle = follow_settle  # see MongoSubscription
        self.counters: Collection[Document] = datastore.db[f"{events_collection_name}_counters"]
        self.keys: Collection[Document] = datastore.db[f"{events_collection_name}_keys"]
        self.group_commit = GroupCommit(self._write_group)

    def create_indexes(self) -> None:
        super().create_indexes()
        with self.datastore.translated_errors():
            self.events.create_index(
                [("log", ASCENDING), ("notification_id", ASCENDING)],
                unique=True,
                name="log_notification_id_unique",
            )
            # The counter must exist before the first transaction, which then only
            # updates it: creating a document inside a transaction races badly.
            self.counters.update_one(
                {"_id": self.log_name}, {"$setOnInsert": {"value": 0}}, upsert=True
            )
            if self.keys.name not in self.datastore.db.list_collection_names(
                filter={"name": self.keys.name}
            ):
                self._create_keys_collection()

    def _create_keys_collection(self) -> None:
        # Processes starting together race to create it: one wins, the others are
        # told it exists (before or after their own check), which is what they want.
        try:
            self.datastore.db.create_collection(self.keys.name)
        except CollectionInvalid:
            pass
        except OperationFailure as exc:
            if exc.code != NAMESPACE_EXISTS:
                raise

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        unique_keys: Sequence[str] = kwargs.get("unique_keys", ())
        account: str | None = kwargs.get("account")
        documents = [self._event_document(event) for event in stored_events]
        if account is not None:
            for document in documents:
                document["account"] = account
        if not documents and tracking is None:
            return []
        if tracking is None:
            return self.group_commit.submit(PendingSave(documents, unique_keys))

        def write(session: ClientSession) -> list[int]:
            self.claim_keys_in(session, unique_keys)
            ids = self.append_in(session, documents)
            if tracking is not None:
                self.insert_tracking_in(session, tracking)
            return ids

        return self.datastore.transaction(
            write, serialise_on=f"{self.counters.name}/{self.log_name}" if documents else ""
        )

    def _write_group(self, saves: Sequence[PendingSave]) -> list[list[int]]:
        """Writes the saves of a group in one transaction; the ids of each save."""
        if len(saves) == 1:
            only = saves[0]

            def write_one(session: ClientSession) -> list[list[int]]:
                self.claim_keys_in(session, only.unique_keys)
                return [self.append_in(session, only.documents)]

            return self.datastore.transaction(write_one, serialise_on=self._serialise_key)
        documents = [document for save in saves for document in save.documents]
        keys = [{"_id": key} for save in saves for key in save.unique_keys]

        def write(session: ClientSession) -> list[list[int]]:
            if keys:
                # A key taken fails the whole group (as an IntegrityError); the
                # group commit then writes each save alone to find whose it was.
                self.keys.insert_many(keys, ordered=True, session=session)
            ids = self.append_in(session, documents)
            split: list[list[int]] = []
            for save in saves:
                split.append(ids[: len(save.documents)])
                ids = ids[len(save.documents) :]
            return split

        return self.datastore.transaction(write, serialise_on=self._serialise_key)

    @property
    def _serialise_key(self) -> str:
        return f"{self.counters.name}/{self.log_name}"

    def claim_keys_in(self, session: ClientSession, keys: Sequence[str]) -> None:
        """Claims unique keys inside the caller's transaction (see UniqueKeyTaken)."""
        for key in keys:
            try:
                self.keys.insert_one({"_id": key}, session=session)
            except DuplicateKeyError as exc:
                raise UniqueKeyTaken(key) from exc

    def key_claimed(self, key: str) -> bool:
        with self.datastore.translated_errors():
            return self.keys.find_one({"_id": key}, {"_id": 1}) is not None

    def append_in(self, session: ClientSession, documents: list[Document]) -> list[int]:
        """Numbers and inserts event documents inside the caller's transaction."""
        if not documents:
            return []
        counter = self.counters.find_one_and_update(
            {"_id": self.log_name},
            {"$inc": {"value": len(documents)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert counter is not None
        first = int(counter["value"]) - len(documents) + 1
        ids = list(range(first, first + len(documents)))
        recorded_at = datetime.now(UTC)  # write-time metadata, for "as of" queries
        for notification_id, document in zip(ids, documents, strict=True):
            document["log"] = self.log_name
            document["notification_id"] = notification_id
            document["recorded_at"] = recorded_at
        self.events.insert_many(documents, ordered=True, session=session)
        return ids

    def insert_tracking_in(self, session: ClientSession, tracking: Tracking) -> None:
        raise NotImplementedError("an application recorder records no tracking")

    def max_notification_id(self) -> int | None:
        with self.datastore.translated_errors():
            counter = self.counters.find_one({"_id": self.log_name})
        value = int(counter["value"]) if counter else 0
        return value or None

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        first = (start or 1) if inclusive_of_start else (start or 0) + 1
        notifications, _ = self.scan_notifications(first, limit, stop, topics)
        return notifications

    def scan_notifications(
        self, first: int, limit: int, stop: int | None, topics: Sequence[str]
    ) -> tuple[list[Notification], int]:
        """Up to `limit` notifications from id `first` on, and the last id scanned
        (with topics, a follower may skip ahead that far even if nothing matched)."""
        first = max(first, 1)
        last_written = self.max_notification_id() or 0
        end = last_written if stop is None else min(stop, last_written)
        # Read bounded windows of ids: the unique index answers each window
        # exactly, where "sort then limit" would read the whole range first.
        window = max(limit, 1) if not topics else max(limit, 1) * self.page_window_growth
        notifications: list[Notification] = []
        scanned = first - 1
        while scanned < end and len(notifications) < limit:
            window_end = min(end, scanned + window)
            found = self._select_window(scanned + 1, window_end, topics)
            if len(notifications) + len(found) > limit:
                found = found[: limit - len(notifications)]
                window_end = found[-1].id
            notifications.extend(found)
            scanned = window_end
        return notifications, scanned

    def _select_window(self, first: int, last: int, topics: Sequence[str]) -> list[Notification]:
        query: Document = {
            "log": self.log_name,
            "notification_id": {"$gte": first, "$lte": last},
        }
        # Topics are matched here, not in the query: the embedded server's planner
        # turns a query with a topic condition into a collection scan (measured: 57
        # ms at 2,800 events, growing with the log), even given an index hint.
        with self.datastore.translated_errors():
            documents = list(
                self.events.find(query, {"_id": 0, "log": 0, "account": 0, "recorded_at": 0})
            )
        if topics:
            wanted = set(topics)
            documents = [document for document in documents if document["topic"] in wanted]
        return notifications_in_order(documents)

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        from parley.eventstore.subscription import MongoSubscription

        # A follower starting is a process starting: free what a dead predecessor
        # left locked now, not at this process's first write, which may never come.
        try:
            self.datastore.sessions.clear_dead()
        except PyMongoError as exc:  # the first transaction tries again
            log.warning("could not clear dead sessions", extra={"error": str(exc)})
        return MongoSubscription(self, gt=gt, topics=topics)


class MongoTrackingRecorder(TrackingRecorder):
    """Records how far a follower has processed each upstream log, atomically with
    the follower's own writes (see `transaction`)."""

    def __init__(self, datastore: MongoDatastore, tracking_collection_name: str) -> None:
        self.datastore = datastore
        self.tracking_collection_name = tracking_collection_name
        self.tracking: Collection[Document] = datastore.db[tracking_collection_name]

    def create_indexes(self) -> None:
        """The tracking collection is keyed by `_id`; nothing else to create."""

    def insert_tracking(self, tracking: Tracking) -> None:
        self.datastore.transaction(lambda session: self.insert_tracking_in(session, tracking))

    def insert_tracking_in(self, session: ClientSession, tracking: Tracking) -> None:
        """Advances the tracked position inside the caller's transaction.

        Raises IntegrityError when the position is not beyond the one recorded,
        so a notification can never be applied twice.
        """
        try:
            self.tracking.update_one(
                {
                    "_id": tracking.application_name,
                    "notification_id": {"$lt": tracking.notification_id},
                },
                {"$set": {"notification_id": tracking.notification_id}},
                upsert=True,
                session=session,
            )
        except DuplicateKeyError as exc:
            # No document below this position matched, and one exists: the
            # position was recorded already (or a later one was).
            msg = (
                f"tracking {tracking.application_name}:{tracking.notification_id} "
                "is not beyond the recorded position"
            )
            raise IntegrityError(msg) from exc

    def transaction(self, work: Callable[[ClientSession], T], tracking: Tracking | None) -> T:
        """Runs a follower's writes and its tracking record in one transaction."""

        def write(session: ClientSession) -> T:
            result = work(session)
            if tracking is not None:
                self.insert_tracking_in(session, tracking)
            return result

        return self.datastore.transaction(write, serialise_on=f"tracking/{self.tracking.name}")

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.datastore.translated_errors():
            document = self.tracking.find_one({"_id": application_name})
        return int(document["notification_id"]) if document else None

    def drop_tracking(self) -> None:
        """Forgets every tracked position (used when rebuilding a read model)."""
        with self.datastore.translated_errors():
            self.tracking.drop()


class MongoProcessRecorder(MongoTrackingRecorder, MongoApplicationRecorder, ProcessRecorder):
    """An application recorder whose writes also record what they processed."""

    def __init__(
        self,
        datastore: MongoDatastore,
        events_collection_name: str,
        tracking_collection_name: str,
        *,
        log_name: str = DEFAULT_LOG,
        poll_interval: float = 1.0,
        follow_settle: float = 0.25,
    ) -> None:
        MongoTrackingRecorder.__init__(self, datastore, tracking_collection_name)
        MongoApplicationRecorder.__init__(
            self,
            datastore,
            events_collection_name,
            log_name=log_name,
            poll_interval=poll_interval,
            follow_settle=follow_settle,
        )

    def create_indexes(self) -> None:
        MongoApplicationRecorder.create_indexes(self)
        MongoTrackingRecorder.create_indexes(self)

    def insert_tracking_in(self, session: ClientSession, tracking: Tracking) -> None:
        MongoTrackingRecorder.insert_tracking_in(self, session, tracking)


def notifications_in_order(documents: list[Document]) -> list[Notification]:
    """Stored event documents as the library's notifications, by log position."""
    documents.sort(key=lambda document: int(document["notification_id"]))
    return [
        Notification(
            id=document["notification_id"],
            originator_id=document["originator_id"],
            originator_version=document["originator_version"],
            topic=document["topic"],
            state=document["state"],
        )
        for document in documents
    ]
