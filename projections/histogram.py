"""Reply latency in fixed buckets, so percentiles are the same however often the
read model is rebuilt, and buckets of any period can be summed."""

from __future__ import annotations

import math

# Upper bounds (ms) of each bucket; one more bucket holds everything above the last.
LATENCY_BOUNDS_MS: tuple[int, ...] = (
    250,
    500,
    1_000,
    2_000,
    3_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    30_000,
    45_000,
    60_000,
    120_000,
    300_000,
    600_000,
    1_800_000,
    3_600_000,
)
PERCENTILES = (50, 95, 99)


def empty() -> list[int]:
    return [0] * (len(LATENCY_BOUNDS_MS) + 1)


def bucket_of(latency_ms: float) -> int:
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


def percentile(counts: list[int], p: float) -> float | None:
    """The upper bound of the bucket holding the p-th percentile (nearest rank);
    for the overflow bucket, the last bound (read it as "at least"). None if empty."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return float(LATENCY_BOUNDS_MS[min(index, len(LATENCY_BOUNDS_MS) - 1)])
    return float(LATENCY_BOUNDS_MS[-1])


def summary(counts: list[int]) -> dict[str, float | int | None]:
    """`{p50, p95, p99, count}` of a histogram."""
    result: dict[str, float | int | None] = {f"p{p}": percentile(counts, p) for p in PERCENTILES}
    result["count"] = sum(counts)
    return result
