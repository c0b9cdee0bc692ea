"""A read model's collections and checkpoint, written a batch at a time.

`ReadModelView` is the projection's view in the library's sense (a tracking
recorder of the MongoDB module), extended with an in-memory change set: a
projection's handlers read documents through it, change them in place, and the
runner commits every changed document of a batch of events together with the
new checkpoint in one transaction. A document changed by fifty events of a batch
is written once.

Documents are cached between batches: a projector holding its lease is the only
writer of its collections, so the cache is what the database holds. Any failed
commit drops the cache (and the known checkpoint), and the next batch reloads.

The checkpoint is advanced by compare-and-set from the position this view last
committed (not merely "forwards", as the library's tracking recorders do): if
anyone else moved it, even to a position inside this batch, the commit fails
and nothing is applied twice.

Every commit of a view runs in the view's own session, whose id the projector
records with its lease. A process killed in the middle of a commit leaves its
transaction open on the server, holding its documents for a minute (MongoDB's
transaction lifetime); whoever takes the lease over ends that session first
(`killSessions`), so it need not wait.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError
from parley.eventstore.datastore import Document, MongoDatastore
from parley.eventstore.recorders import MongoTrackingRecorder
from pymongo import InsertOne, ReplaceOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import CollectionInvalid, DuplicateKeyError, OperationFailure
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

SHADOW_SUFFIX = "__shadow"
# Ids of evicted documents remembered while the view knows every document (see
# `_complete`); past this, misses ask the database again, so a projector running
# for months does not keep one id per message it ever saw.
EVICTED_REMEMBERED = 50_000
NAMESPACE_EXISTS = 48

Fence = Callable[[ClientSession], None]
Write = InsertOne[Document] | ReplaceOne[Document]


class CheckpointMoved(IntegrityError):
    """Raised when a view's checkpoint is not where this view last committed it:
    another writer applied events to it, or it was rebuilt meanwhile."""


@dataclass(frozen=True)
class Index:
    keys: tuple[tuple[str, int], ...]
    name: str
    unique: bool = False


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    indexes: tuple[Index, ...] = ()
    # Compare a changed document with what is stored and skip the write when
    # equal: worth its copying for small documents that often change back.
    write_if_changed: bool = False
    # At most this many of its documents cached, whatever the view's cache size:
    # for documents that are hot only for moments after they are made.
    cache_limit: int | None = None


class ReadModelView(MongoTrackingRecorder):
    """The collections of one projection (optionally suffixed, for a shadow
    build), its checkpoint collection `<projection>_tracking`, and the pending
    changes of the batch being applied."""

    def __init__(
        self,
        datastore: MongoDatastore,
        projection: str,
        collections: Sequence[CollectionSpec],
        *,
        suffix: str = "",
        cache_size: int = 20_000,
    ) -> None:
        super().__init__(datastore, f"{projection}_tracking{suffix}")
        self.projection = projection
        self.suffix = suffix
        self.specs = tuple(collections)
        self._cache_limits = {
            spec.name: min(cache_size, spec.cache_limit or cache_size) for spec in collections
        }
        self.collections: dict[str, Collection[Document]] = {
            spec.name: datastore.db[spec.name + suffix] for spec in collections
        }
        self._cache: dict[str, OrderedDict[str, Document]] = {
            name: OrderedDict() for name in self.collections
        }
        self._new: dict[str, dict[str, Document]] = {name: {} for name in self.collections}
        self._dirty: dict[str, dict[str, Document]] = {name: {} for name in self.collections}
        self._positions: dict[str, int] = {}
        # While `_complete`, the cache and `_evicted` account for every document
        # in the database, so an id in neither needs no query to know it is absent.
        # A catch-up from an empty view (a rebuild) then never reads a document.
        self._complete = False
        self._evicted: dict[str, set[str]] = {name: set() for name in self.collections}
        self._session: ClientSession | None = None
        self._stored: dict[str, dict[str, Document]] = {
            spec.name: {} for spec in collections if spec.write_if_changed
        }

    @property
    def session(self) -> ClientSession:
        """The session every commit of this view runs in."""
        if self._session is None:
            self._session = self.datastore.client.start_session(causal_consistency=False)
        return self._session

    @property
    def session_id(self) -> Document:
        return dict(self.session.session_id)

    def close(self) -> None:
        if self._session is not None:
            self._session.end_session()
            self._session = None

    # ------------------------------------------------------------ documents

    def get(self, collection: str, doc_id: str) -> Document | None:
        """The document as this batch sees it, or None if there is none."""
        cache = self._cache[collection]
        document = cache.get(doc_id)
        if document is not None:
            cache.move_to_end(doc_id)
            return document
        if self._complete and doc_id not in self._evicted[collection]:
            return None
        with self.datastore.translated_errors():
            document = self.collections[collection].find_one({"_id": doc_id})
        if document is not None:
            self._loaded(collection, document)
        return document

    def create(self, collection: str, document: Document) -> Document:
        """Adds a new document; the caller knows none exists with its id."""
        doc_id = document["_id"]
        self._cache[collection][doc_id] = document
        self._new[collection][doc_id] = document
        return document

    def changed(self, collection: str, document: Document) -> None:
        """Marks a document got from `get` or `find` as changed in this batch."""
        doc_id = document["_id"]
        if doc_id not in self._new[collection]:
            self._dirty[collection][doc_id] = document

    def find(self, collection: str, field: str, value: Any) -> list[Document]:
        """Every document whose `field` (one that never changes) equals `value`,
        as this batch sees it, ordered by id. `field` must be indexed."""
        cache = self._cache[collection]
        found: dict[str, Document] = {}
        with self.datastore.translated_errors():
            for document in self.collections[collection].find({field: value}):
                doc_id = document["_id"]
                cached = cache.get(doc_id)
                if cached is None:
                    self._loaded(collection, document)
                    cached = document
                found[doc_id] = cached
        for doc_id, document in self._new[collection].items():
            if document.get(field) == value:
                found[doc_id] = document
        return [found[doc_id] for doc_id in sorted(found)]

    def _loaded(self, collection: str, document: Document) -> None:
        self._cache[collection][document["_id"]] = document
        stored = self._stored.get(collection)
        if stored is not None:
            stored[document["_id"]] = copy.deepcopy(document)

    @property
    def pending_writes(self) -> int:
        return sum(len(self._new[name]) + len(self._dirty[name]) for name in self.collections)

    # ----------------------------------------------------------- checkpoint

    def position(self, upstream: str) -> int:
        """The checkpoint this view has committed for `upstream` (0: none)."""
        if upstream not in self._positions:
            position = self.max_tracking_id(upstream) or 0
            self._positions[upstream] = position
            if position == 0 and len(self._positions) == 1:
                self._complete = self._is_empty()
        return self._positions[upstream]

    def commit(self, upstream: str, to_position: int, fence: Fence | None = None) -> int:
        """Writes this batch's changes and moves the checkpoint from where this
        view last left it to `to_position`, in one transaction; returns the
        number of documents written. On any failure the batch is discarded."""
        expected = self.position(upstream)
        batches = self._write_batches()
        written = sum(len(batch) for _, batch, _ in batches)

        def work(session: ClientSession) -> None:
            if fence is not None:
                fence(session)
            self._advance_in(session, upstream, expected, to_position)
            for collection, batch, replaced in batches:
                result = collection.bulk_write(batch, ordered=False, session=session)
                if result.matched_count != replaced:
                    msg = f"{collection.name}: a cached document is missing from the database"
                    raise CheckpointMoved(msg)

        try:
            with self.datastore.translated_errors():
                self.session.with_transaction(
                    work,
                    read_concern=ReadConcern("snapshot"),
                    write_concern=WriteConcern("majority"),
                )
        except BaseException:
            self.discard()
            raise
        for name in self.collections:
            stored = self._stored.get(name)
            if stored is not None:
                for doc_id, document in [*self._new[name].items(), *self._dirty[name].items()]:
                    stored[doc_id] = copy.deepcopy(document)
            self._new[name].clear()
            self._dirty[name].clear()
            cache = self._cache[name]
            while len(cache) > self._cache_limits[name]:
                doc_id, _ = cache.popitem(last=False)
                if stored is not None:
                    stored.pop(doc_id, None)
                if self._complete:
                    self._evicted[name].add(doc_id)
            if len(self._evicted[name]) > EVICTED_REMEMBERED:
                self._forget_evicted()
        self._positions[upstream] = to_position
        return written

    def discard(self) -> None:
        """Forgets pending changes, cached documents and known checkpoints."""
        for name in self.collections:
            self._cache[name].clear()
            self._new[name].clear()
            self._dirty[name].clear()
        for stored in self._stored.values():
            stored.clear()
        self._positions.clear()
        self._forget_evicted()

    def _forget_evicted(self) -> None:
        self._complete = False
        for evicted in self._evicted.values():
            evicted.clear()

    def _is_empty(self) -> bool:
        with self.datastore.translated_errors():
            return all(
                collection.find_one({}, {"_id": 1}) is None
                for collection in self.collections.values()
            )

    def _write_batches(self) -> list[tuple[Collection[Document], list[Write], int]]:
        batches = []
        for name, collection in self.collections.items():
            batch: list[Write] = [InsertOne(document) for document in self._new[name].values()]
            stored = self._stored.get(name, {})
            replaced = [
                ReplaceOne({"_id": doc_id}, document)
                for doc_id, document in self._dirty[name].items()
                if stored.get(doc_id) != document
            ]
            batch.extend(replaced)
            if batch:
                batches.append((collection, batch, len(replaced)))
        return batches

    def _advance_in(
        self, session: ClientSession, upstream: str, expected: int, to_position: int
    ) -> None:
        if to_position <= expected:
            msg = f"{self.tracking.name}: {to_position} is not beyond {expected}"
            raise CheckpointMoved(msg)
        if expected == 0:
            try:
                self.tracking.insert_one(
                    {"_id": upstream, "notification_id": to_position}, session=session
                )
            except DuplicateKeyError as exc:
                msg = f"{self.tracking.name}: {upstream} was checkpointed by another writer"
                raise CheckpointMoved(msg) from exc
            return
        result = self.tracking.update_one(
            {"_id": upstream, "notification_id": expected},
            {"$set": {"notification_id": to_position}},
            session=session,
        )
        if result.matched_count != 1:
            msg = f"{self.tracking.name}: {upstream} is no longer at {expected}"
            raise CheckpointMoved(msg)

    # ----------------------------------------------------------- lifecycle

    def collection_names(self) -> list[str]:
        """Every collection this view writes, its checkpoint included."""
        return [*(c.name for c in self.collections.values()), self.tracking.name]

    def create_indexes(self) -> None:
        db = self.datastore.db
        with self.datastore.translated_errors():
            existing = set(db.list_collection_names())
            for spec in self.specs:
                collection = self.collections[spec.name]
                if collection.name not in existing:
                    _create_collection(db, collection.name)
                for index in spec.indexes:
                    collection.create_index(list(index.keys), name=index.name, unique=index.unique)

    def drop(self) -> None:
        """Drops every collection of this view and its checkpoint."""
        with self.datastore.translated_errors():
            for name in self.collection_names():
                self.datastore.db.drop_collection(name)
        self.discard()

    def swap_into(self, target: ReadModelView) -> None:
        """Renames this (shadow) view's collections over `target`'s, replacing them.

        Each rename is atomic; between two renames a reader may see the new
        version of one collection and the old of another, for milliseconds.
        """
        db = self.datastore.db
        with self.datastore.translated_errors():
            existing = set(db.list_collection_names())
            for source, destination in zip(
                self.collection_names(), target.collection_names(), strict=True
            ):
                if source in existing:
                    db[source].rename(destination, dropTarget=True)
                else:
                    db.drop_collection(destination)
        self.discard()
        target.discard()
        target.create_indexes()

    def documents(self, collection: str) -> Iterable[Document]:
        """Every stored document of one collection, by id (for checks and tests)."""
        return self.collections[collection].find().sort("_id", 1)


def _create_collection(db: Database[Document], name: str) -> None:
    """Creates a collection unless it exists (another process may be first)."""
    try:
        db.create_collection(name)
    except CollectionInvalid:
        pass
    except OperationFailure as exc:
        if exc.code != NAMESPACE_EXISTS:
            raise
