"""The shape every read-model projection shares.

A projection is the library's `Projection`: `process_event(event, tracking)`,
dispatched on the event's class, writing to its view. Here the view only
collects the changes; the runner (`parley.projections.runner`) commits a whole
batch of events at once with the checkpoint, which the library's own runner
cannot do (it commits one event per transaction: about 400 events per second
on the embedded server, where batches reach thousands).

Each projection subclass defines its own `process_event` dispatcher (a
dispatcher defined here would share its registrations among all subclasses).
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from parley.eventstore.datastore import Document
from parley.projections.errors import MissingDocument
from parley.projections.view import CollectionSpec, ReadModelView


class ReadModelProjection(Projection[ReadModelView]):
    """A projection whose handlers read and change documents of its view."""

    name: str = ""
    collections: ClassVar[tuple[CollectionSpec, ...]] = ()
    # The collection of this projection's own bookkeeping, which readers ignore.
    state: ClassVar[str] = ""

    def get(self, collection: str, doc_id: str) -> Document | None:
        return self.view.get(collection, doc_id)

    def require(self, collection: str, doc_id: str, tracking: Tracking) -> Document:
        """A document an earlier event must have made: its absence means the read
        model and the log disagree, which stops the projection."""
        document = self.get(collection, doc_id)
        if document is None:
            raise MissingDocument(self.name, collection, doc_id, tracking)
        return document

    def create(self, collection: str, document: Document) -> Document:
        return self.view.create(collection, document)

    def changed(self, collection: str, document: Document) -> None:
        self.view.changed(collection, document)

    def find(self, collection: str, field: str, value: Any) -> list[Document]:
        return self.view.find(collection, field, value)

    def state_doc(self, doc_id: str, **initial: Any) -> Document:
        """A bookkeeping document, created with `initial` values if new; the
        caller marks it changed when it changes it."""
        document = self.get(self.state, doc_id)
        if document is None:
            document = self.create(self.state, {"_id": doc_id, **initial})
        return document
