"""Following the event log live, one decoded entry per event."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from parley.domain.application import ParleyApp
from parley.projections.audit import AuditEntry, entry_from_document, events_recorder
from parley.projections.feed import PageSubscription

PAGE = 200


def page_query(log_name: str, window: dict[str, int]) -> dict[str, object]:
    return {"log": log_name, "notification_id": window}


def tail(
    app: ParleyApp,
    *,
    after: int | None = None,
    stop: threading.Event | None = None,
    wait: float = 0.5,
) -> Iterator[AuditEntry]:
    """Yields every event recorded after position `after` (default: the head of
    the log now), oldest first, waiting for new ones until `stop` is set."""
    recorder = events_recorder(app)
    stop = stop or threading.Event()
    start = (recorder.max_notification_id() or 0) if after is None else after
    subscription = PageSubscription(recorder, gt=start, page_size=PAGE)
    try:
        while not stop.is_set():
            page = subscription.next_page(timeout=wait)
            if not page:
                continue
            # The notifications lack the write time; read the documents of the page.
            window = {"$gte": page[0].id, "$lte": page[-1].id}
            with recorder.datastore.translated_errors():
                documents = list(recorder.events.find(page_query(recorder.log_name, window)))
            documents.sort(key=lambda document: int(document["notification_id"]))
            for document in documents:
                yield entry_from_document(app, document)
    finally:
        subscription.close()
