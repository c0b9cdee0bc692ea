"""Backoff, Retry-After parsing, the circuit breaker and the concurrency limit."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from parley.bridge.replies.resilience import (
    BreakerState,
    CircuitBreaker,
    ConcurrencyLimit,
    RetryPolicy,
    SlotUnavailable,
    parse_duration,
    parse_retry_after,
)
from testkit.clock import ManualClock

# ------------------------------------------------------------------ backoff


def test_backoff_doubles_within_its_jitter_band_up_to_the_cap() -> None:
    policy = RetryPolicy(retries=8, initial_s=1.0, max_s=8.0, rng=random.Random(7))

    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (8, 8.0)]:
        waits = [policy.backoff(retry) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 100  # jittered, not one fixed value


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    policy = RetryPolicy(retries=3, initial_s=4.0, max_s=4.0, rng=random.Random(1))

    assert policy.delay(1, retry_after_s=30.0) == 30.0
    assert 2.0 <= policy.delay(1, retry_after_s=0.5) <= 4.0


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)

    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after("-3") is None


def test_protobuf_durations() -> None:
    assert parse_duration("17s") == 17.0
    assert parse_duration("0.25s") == 0.25
    assert parse_duration("17") is None
    assert parse_duration("") is None


# ---------------------------------------------------------- circuit breaker


def fail(breaker: CircuitBreaker) -> None:
    permit = breaker.try_acquire()
    assert permit is not None
    permit.failed()


def succeed(breaker: CircuitBreaker) -> None:
    permit = breaker.try_acquire()
    assert permit is not None
    permit.succeeded()


def test_breaker_opens_only_after_consecutive_failures() -> None:
    breaker = CircuitBreaker(3, 10.0, clock=ManualClock())

    fail(breaker)
    fail(breaker)
    succeed(breaker)  # resets the count
    fail(breaker)
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker)

    assert breaker.state is BreakerState.OPEN
    assert breaker.try_acquire() is None


def test_open_breaker_lets_one_probe_through_after_the_open_period() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    fail(breaker)

    clock.advance(9.99)
    assert breaker.try_acquire() is None
    clock.advance(0.01)
    probe = breaker.try_acquire()

    assert probe is not None
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire() is None  # one probe at a time
    probe.succeeded()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.try_acquire() is not None


def test_failed_probe_reopens_for_a_full_period() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    fail(breaker)
    clock.advance(10)

    fail(breaker)  # the probe
    clock.advance(9)

    assert breaker.state is BreakerState.OPEN
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_probe_that_ends_without_an_outcome_frees_its_slot() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    fail(breaker)
    clock.advance(10)

    probe = breaker.try_acquire()
    assert probe is not None
    probe.release()  # cancelled, say

    assert breaker.try_acquire() is not None


def test_reporting_twice_counts_once() -> None:
    breaker = CircuitBreaker(2, 10.0, clock=ManualClock())
    permit = breaker.try_acquire()
    assert permit is not None

    permit.failed()
    permit.failed()
    permit.release()

    assert breaker.consecutive_failures == 1
    assert breaker.state is BreakerState.CLOSED


def test_breaker_rejects_nonsense_thresholds() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(0, 10.0)


# -------------------------------------------------------- concurrency limit


async def test_a_full_limit_refuses_after_the_wait() -> None:
    limit = ConcurrencyLimit(1)

    async with limit.slot(wait_s=1):
        assert limit.in_flight == 1
        with pytest.raises(SlotUnavailable):
            async with limit.slot(wait_s=0.05):
                pass

    assert limit.in_flight == 0
    async with limit.slot(wait_s=0.05):
        assert limit.in_flight == 1


async def test_a_freed_slot_goes_to_the_waiter() -> None:
    limit = ConcurrencyLimit(1)
    order: list[str] = []

    async def hold() -> None:
        async with limit.slot(wait_s=1):
            order.append("first in")
            await asyncio.sleep(0.05)
            order.append("first out")

    async def wait() -> None:
        async with limit.slot(wait_s=5):
            order.append("second in")

    await asyncio.gather(hold(), wait())

    assert order == ["first in", "first out", "second in"]
