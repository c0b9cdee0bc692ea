from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from parley.bridge.replies.config import GeminiSettings
from parley.bridge.replies.gemini import GeminiReplyModel
from parley.bridge.replies.resilience import CircuitBreaker
from parley.tools.fake_gemini import FakeGemini
from testkit.clock import ManualClock, RecordingSleep
from testkit.gemini import TEST_KEY, ModelFactory


@pytest.fixture
async def fake() -> AsyncIterator[FakeGemini]:
    """The fake Gemini server, in this test's event loop, on a free port."""
    server = FakeGemini()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(fake: FakeGemini) -> GeminiSettings:
    """Short timeouts and backoffs so failure paths stay quick."""
    return GeminiSettings(
        api_key=TEST_KEY,
        base_url=fake.base_url,
        timeout_ms=1_000,
        deadline_ms=10_000,
        retries=2,
        backoff_ms=10,
        backoff_max_ms=40,
        breaker_failures=3,
        breaker_open_ms=30_000,
        max_concurrency=4,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def make_model(
    settings: GeminiSettings, clock: ManualClock, sleep: RecordingSleep
) -> AsyncIterator[ModelFactory]:
    """Builds Gemini reply models on the fake server (settings overridable by keyword),
    with the breaker on the manual clock and retry waits recorded, not slept."""
    built: list[GeminiReplyModel] = []

    def factory(**changes: Any) -> GeminiReplyModel:
        chosen = replace(settings, **changes)
        breaker = CircuitBreaker(
            chosen.breaker_failures, chosen.breaker_open_ms / 1000, clock=clock, name="test"
        )
        model = GeminiReplyModel(chosen, breaker=breaker, sleep=sleep)
        built.append(model)
        return model

    yield factory
    for model in built:
        await model.aclose()
