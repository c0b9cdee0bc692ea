"""The shared live-projected history of the read-side tests (see
tests/projections/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

from parley.domain.application import ParleyApp
from parley.projections.applier import upstream_name
from parley.projections.registry import PROJECTION_NAMES, build_view

from testkit.history import HistoryReport

HISTORY_EVENTS = 5_200
HISTORY_CONVERSATIONS = 110
UPSTREAM = upstream_name("parley", "main")


@dataclass(frozen=True)
class LiveHistory:
    uri: str
    database: str
    app: ParleyApp
    report: HistoryReport
    live_batches: int  # batches the live projector committed while following


def positions(app: ParleyApp, names: tuple[str, ...] = PROJECTION_NAMES) -> list[int]:
    """Each read model's checkpoint, as stored."""
    datastore = app.recorder.datastore
    return [build_view(datastore, name).max_tracking_id(UPSTREAM) or 0 for name in names]
