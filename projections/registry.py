"""The read models by name, and how to build one over a database."""

from __future__ import annotations

from collections.abc import Sequence

from parley.eventstore.datastore import MongoDatastore
from parley.projections.analytics import AnalyticsProjection
from parley.projections.base import ReadModelProjection
from parley.projections.contacts import ContactsProjection
from parley.projections.context import ContextProjection
from parley.projections.errors import UnknownProjection
from parley.projections.messages import MessagesProjection
from parley.projections.threads import ThreadsProjection
from parley.projections.view import ReadModelView

PROJECTIONS: dict[str, type[ReadModelProjection]] = {
    cls.name: cls
    for cls in (
        ThreadsProjection,
        MessagesProjection,
        ContactsProjection,
        ContextProjection,
        AnalyticsProjection,
    )
}
PROJECTION_NAMES: tuple[str, ...] = tuple(PROJECTIONS)


def projection_class(name: str) -> type[ReadModelProjection]:
    try:
        return PROJECTIONS[name]
    except KeyError:
        known = ", ".join(PROJECTION_NAMES)
        raise UnknownProjection(f"no read model named {name!r} (known: {known})") from None


def build_view(
    datastore: MongoDatastore, name: str, *, suffix: str = "", cache_size: int = 20_000
) -> ReadModelView:
    cls = projection_class(name)
    return ReadModelView(datastore, cls.name, cls.collections, suffix=suffix, cache_size=cache_size)


def build_projections(
    datastore: MongoDatastore,
    names: Sequence[str],
    *,
    suffix: str = "",
    cache_size: int = 20_000,
) -> list[ReadModelProjection]:
    """One projection over its own view per name, in the order given."""
    return [
        projection_class(name)(build_view(datastore, name, suffix=suffix, cache_size=cache_size))
        for name in names
    ]
