"""Read-model documents for tests: the shapes live in parley.tools.seed_read_models,
which the benchmarks use too."""

from parley.tools.seed_read_models import (
    EPOCH,
    READ_MODEL_INDEXES,
    analytics_document,
    bridge_status_document,
    contact_document,
    ensure_indexes,
    inbound_message_document,
    reply_document,
    seed_threads,
    thread_document,
)

__all__ = [
    "EPOCH",
    "READ_MODEL_INDEXES",
    "analytics_document",
    "bridge_status_document",
    "contact_document",
    "ensure_indexes",
    "inbound_message_document",
    "reply_document",
    "seed_threads",
    "thread_document",
]
