"""Read models against a rebuild: every projection is rebuilt from event 1 into
fresh collections (the projections' own replay code, into a suffixed view) and
compared, document by document, with the live read models the projector kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parley.domain.application import ParleyApp
from parley.eventstore.factory import factory_settings

SUFFIX = "__soakcheck"
UPSTREAM = "parley/main"


@dataclass
class CollectionCheck:
    name: str
    live: int
    rebuilt: int
    differences: list[str] = field(default_factory=list)


@dataclass
class ReadModelCheck:
    available: bool = True
    head: int = 0
    live_positions: dict[str, int] = field(default_factory=dict)
    rebuilt_position: int = 0
    rebuild_seconds: float = 0.0
    collections: list[CollectionCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.available and not self.problems


def compare_with_rebuild(uri: str, database: str) -> ReadModelCheck:
    try:
        from parley.projections.registry import PROJECTION_NAMES, build_projections
        from parley.projections.replay import build
    except ImportError:
        return ReadModelCheck(available=False, problems=["projections are not installed"])
    import time

    check = ReadModelCheck()
    app = ParleyApp(env=factory_settings(uri, database))
    try:
        datastore = app.event_log.datastore
        check.head = app.event_log.max_notification_id() or 0
        live = build_projections(datastore, PROJECTION_NAMES)
        for projection in live:
            check.live_positions[projection.name] = projection.view.position(UPSTREAM)
            if check.live_positions[projection.name] != check.head:
                check.problems.append(
                    f"{projection.name} is at {check.live_positions[projection.name]}, "
                    f"not at the head of the log ({check.head})"
                )
        rebuilt = build_projections(datastore, PROJECTION_NAMES, suffix=SUFFIX)
        for projection in rebuilt:
            projection.view.drop()
            projection.view.create_indexes()
        started = time.perf_counter()
        check.rebuilt_position = build(app, rebuilt, until=check.head)
        check.rebuild_seconds = time.perf_counter() - started
        try:
            for old, new in zip(live, rebuilt, strict=True):
                for name in old.view.collections:
                    check.collections.append(
                        _compare(
                            f"{old.name}/{name}",
                            list(old.view.documents(name)),
                            list(new.view.documents(name)),
                        )
                    )
        finally:
            for projection in rebuilt:
                projection.view.drop()
    finally:
        app.close()
    for collection in check.collections:
        if collection.differences:
            shown = "; ".join(collection.differences[:3])
            check.problems.append(
                f"{collection.name}: {len(collection.differences)} documents differ ({shown})"
            )
    return check


def _compare(
    name: str, live: list[dict[str, Any]], rebuilt: list[dict[str, Any]]
) -> CollectionCheck:
    check = CollectionCheck(name, len(live), len(rebuilt))
    by_id_live = {str(document["_id"]): document for document in live}
    by_id_rebuilt = {str(document["_id"]): document for document in rebuilt}
    for doc_id in sorted(set(by_id_live) | set(by_id_rebuilt)):
        old, new = by_id_live.get(doc_id), by_id_rebuilt.get(doc_id)
        if old is None:
            check.differences.append(f"{doc_id} only in the rebuild")
        elif new is None:
            check.differences.append(f"{doc_id} only in the live read model")
        elif old != new:
            keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            check.differences.append(f"{doc_id} differs in {', '.join(keys[:6])}")
    return check
