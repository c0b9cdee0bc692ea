"""A read-model view's document cache stays bounded: per collection where a
collection asks for less, and in the ids it remembers of evicted documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from parley.domain.application import ParleyApp
from parley.eventstore.recorders import MongoProcessRecorder
from parley.projections import view as view_module
from parley.projections.view import CollectionSpec, ReadModelView
from testkit.readmodels import make_app

DOCS = "probe_docs"


@pytest.fixture
def app(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    app = make_app(mongo_uri, database_name)
    yield app
    app.close()


def probe_view(app: ParleyApp, cache_limit: int) -> ReadModelView:
    recorder = app.recorder
    assert isinstance(recorder, MongoProcessRecorder)
    view = ReadModelView(
        recorder.datastore,
        "probe",
        (CollectionSpec(DOCS, cache_limit=cache_limit),),
        cache_size=100,
    )
    view.create_indexes()
    view.position("upstream")  # an empty view: it knows every document there is
    return view


def test_a_collection_keeps_no_more_documents_cached_than_it_asks(app: ParleyApp) -> None:
    view = probe_view(app, cache_limit=3)
    for number in range(10):
        view.create(DOCS, {"_id": f"doc-{number}", "number": number})
        view.commit("upstream", number + 1)

    assert len(view._cache[DOCS]) == 3
    # Evicted documents are read back from the database, absent ones are still absent.
    assert view.get(DOCS, "doc-0") == {"_id": "doc-0", "number": 0}
    assert view.get(DOCS, "doc-99") is None


def test_ids_of_evicted_documents_are_remembered_only_up_to_a_bound(
    app: ParleyApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view_module, "EVICTED_REMEMBERED", 5)
    view = probe_view(app, cache_limit=1)
    for number in range(20):
        view.create(DOCS, {"_id": f"doc-{number}", "number": number})
        view.commit("upstream", number + 1)

    assert sum(len(ids) for ids in view._evicted.values()) <= 5
    for number in range(20):  # and every document is still found
        assert view.get(DOCS, f"doc-{number}") == {"_id": f"doc-{number}", "number": number}
    assert view.get(DOCS, "doc-99") is None
