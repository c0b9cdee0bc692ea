"""Where each projection stands: its checkpoint, how far behind the log it is,
and which projector holds it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from parley.eventstore.datastore import Document
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.projections.applier import upstream_name
from parley.projections.lease import current_leases, lease_id
from parley.projections.registry import PROJECTION_NAMES
from pymongo.database import Database


def projection_status(
    database: Database[Document],
    recorder: MongoApplicationRecorder,
    *,
    application_name: str = "parley",
    names: Sequence[str] = PROJECTION_NAMES,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """`[{name, position, lag, holder, lease_expires_at}]`, one per projection;
    `holder` is None when no projector holds an unexpired lease on it."""
    head = recorder.max_notification_id() or 0
    upstream = upstream_name(application_name, recorder.log_name)
    leases = current_leases(database, now)
    rows: list[dict[str, Any]] = []
    for name in names:
        checkpoint = database[f"{name}_tracking"].find_one({"_id": upstream})
        position = int(checkpoint["notification_id"]) if checkpoint else 0
        lease = leases.get(lease_id(name, recorder.log_name))
        rows.append(
            {
                "name": name,
                "position": position,
                "lag": max(0, head - position),
                "holder": lease.holder if lease else None,
                "lease_expires_at": lease.expires_at if lease else None,
            }
        )
    return rows
