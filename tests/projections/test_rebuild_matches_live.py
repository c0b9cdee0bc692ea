"""A read model rebuilt from event 1 is identical to the one built live."""

from __future__ import annotations

import pytest
from parley.domain.application import ParleyApp
from parley.projections.registry import PROJECTION_NAMES
from parley.projections.replay import replay
from testkit.live import HISTORY_CONVERSATIONS, LiveHistory
from testkit.readmodels import project, read_model


def test_the_history_is_big_enough(live_history: LiveHistory) -> None:
    report = live_history.report
    assert report.events >= 5_000
    assert len(report.chats) == HISTORY_CONVERSATIONS >= 100
    assert len(report.thread_ids) >= 100
    assert report.duplicates > 0  # redeliveries happened and recorded nothing
    # The projector followed the log as it was written, in many small batches,
    # not in one catch-up at the end (which would take 5 x 5,200 / 200 = 130).
    assert live_history.live_batches > 1_000


@pytest.mark.parametrize("name", PROJECTION_NAMES)
def test_rebuild_from_scratch_equals_the_live_read_model(
    live_history: LiveHistory, name: str
) -> None:
    app = live_history.app
    project(app, [name], suffix="__rebuilt", batch_size=700)
    live = read_model(app, name)
    rebuilt = read_model(app, name, suffix="__rebuilt")
    assert live.keys() == rebuilt.keys()
    for collection, documents in live.items():
        assert len(documents) > 0, f"{collection} is empty"
        assert documents.keys() == rebuilt[collection].keys(), collection
        different = [
            doc_id for doc_id in documents if documents[doc_id] != rebuilt[collection][doc_id]
        ]
        assert not different, (
            f"{collection}: {len(different)} documents differ, e.g. {different[:3]}"
        )


def test_replay_in_place_and_in_a_shadow_give_the_live_documents(
    live_history: LiveHistory, log_copy: ParleyApp
) -> None:
    seen: list[tuple[int, int]] = []
    result = replay(
        log_copy,
        ["threads", "analytics"],
        batch_size=900,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert result.position == live_history.report.events
    assert seen[-1] == (result.position, result.position)
    shadowed = replay(log_copy, ["threads", "analytics"], shadow=True, batch_size=1300)
    assert shadowed.shadow
    for name in ("threads", "analytics"):
        assert read_model(log_copy, name) == read_model(live_history.app, name)
    names = log_copy.recorder.datastore.db.list_collection_names()
    assert not [n for n in names if n.endswith("__shadow")]
