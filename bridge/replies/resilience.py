"""Staying useful when the model service struggles: backoff with jitter that honours
Retry-After, a circuit breaker, and a cap on calls in flight.

Nothing here knows about Gemini; the adapter decides what counts as a failure.
Time comes from an injectable clock so tests can move it without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # monotonic seconds
Sleep = Callable[[float], Awaitable[None]]


# ---------------------------------------------------------------- retrying


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try again, and how long to wait before each retry."""

    retries: int  # after the first call
    initial_s: float
    max_s: float
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (1-based): exponential and capped, with
        "equal jitter" (half fixed, half random) so callers that failed together do not
        come back together, yet never retry at once."""
        ceiling = min(self.max_s, self.initial_s * self.multiplier ** (retry - 1))
        return ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)

    def delay(self, retry: int, retry_after_s: float | None) -> float:
        """The server's Retry-After is a floor: wait at least that long."""
        wait = self.backoff(retry)
        return wait if retry_after_s is None else max(wait, retry_after_s)


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.
    None when the value is neither."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")


def parse_duration(value: str) -> float | None:
    """Seconds from a protobuf Duration in JSON form ("17s", "0.5s"), else None."""
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


# ---------------------------------------------------------- circuit breaker


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through; consecutive failures are counted
    OPEN = "open"  # calls are refused until the open period ends
    HALF_OPEN = "half_open"  # a limited number of probes may go through


class Permit:
    """Leave to make one call. Report how it went with `succeeded()` or `failed()`;
    `release()` (always, in a finally) frees a probe slot of a call that did neither,
    so a cancelled probe cannot wedge the breaker half-open."""

    def __init__(self, breaker: CircuitBreaker, probe: bool) -> None:
        self._breaker = breaker
        self._probe = probe
        self._done = False

    def succeeded(self) -> None:
        if not self._done:
            self._done = True
            self._breaker._on_success(self._probe)

    def failed(self) -> None:
        if not self._done:
            self._done = True
            self._breaker._on_failure(self._probe)

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._breaker._on_release(self._probe)


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures, refuses calls for
    `open_s`, then lets `half_open_probes` calls through: a probe's success closes
    it, a probe's failure opens it again for another `open_s`.

    One instance is shared by every call of the process, so one chat's failures
    spare the others the wait.
    """

    def __init__(
        self,
        failure_threshold: int,
        open_s: float,
        *,
        half_open_probes: int = 1,
        clock: Clock = time.monotonic,
        name: str = "model",
    ) -> None:
        if failure_threshold < 1 or half_open_probes < 1 or open_s <= 0:
            msg = "failure_threshold and half_open_probes must be >= 1, open_s > 0"
            raise ValueError(msg)
        self.failure_threshold = failure_threshold
        self.open_s = open_s
        self.half_open_probes = half_open_probes
        self.name = name
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.open_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def try_acquire(self) -> Permit | None:
        """A permit to call now, or None while the circuit is open (or every
        half-open probe slot is taken)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(self, probe=False)
        if state is BreakerState.HALF_OPEN and self._probes < self.half_open_probes:
            self._probes += 1
            return Permit(self, probe=True)
        return None

    def _on_success(self, probe: bool) -> None:
        if probe:
            self._probes -= 1
        if self._opened_at is not None:
            log.info("circuit closed", extra={"breaker": self.name})
        self._failures = 0
        self._opened_at = None
        self._probes = 0

    def _on_failure(self, probe: bool) -> None:
        if probe:
            self._probes -= 1
        self._failures += 1
        if self._opened_at is not None:
            # A failed probe, or a call that began before the circuit opened.
            self._open()
        elif self._failures >= self.failure_threshold:
            self._open()

    def _on_release(self, probe: bool) -> None:
        if probe:
            self._probes -= 1

    def _open(self) -> None:
        self._opened_at = self._clock()
        log.warning(
            "circuit opened",
            extra={"breaker": self.name, "failures": self._failures, "open_s": self.open_s},
        )


# ------------------------------------------------------ concurrency limit


class SlotUnavailable(Exception):
    """Raised when no call slot frees up within the wait allowed."""


class ConcurrencyLimit:
    """At most `max_in_flight` calls at once; the rest wait their turn."""

    def __init__(self, max_in_flight: int) -> None:
        if max_in_flight < 1:
            msg = "max_in_flight must be at least 1"
            raise ValueError(msg)
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._semaphore = asyncio.Semaphore(max_in_flight)

    @asynccontextmanager
    async def slot(self, wait_s: float) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(wait_s):
                await self._semaphore.acquire()
        except TimeoutError:
            raise SlotUnavailable from None
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._semaphore.release()
