"""Prometheus text exposition (format 0.0.4), written here: a few families, no client
library. `RequestMetrics` counts this process's own requests; the rest of /metrics
is read from the read models at scrape time (see `system.metrics`)."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Request latency buckets, seconds.
REQUEST_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Labels = Mapping[str, str]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{name}="{_escape(str(value))}"' for name, value in labels.items())
    return "{" + inner + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Exposition:
    """Families written in order; each family's samples follow its HELP and TYPE."""

    lines: list[str] = field(default_factory=list)

    def _family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {_escape(help_text)}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Labels | None = None) -> None:
        self.lines.append(f"{name}{_labels(labels or {})} {_number(value)}")

    def counter(self, name: str, help_text: str, samples: Iterable[tuple[Labels, float]]) -> None:
        self._family(name, "counter", help_text)
        for labels, value in samples:
            self.sample(name, value, labels)

    def gauge(self, name: str, help_text: str, samples: Iterable[tuple[Labels, float]]) -> None:
        self._family(name, "gauge", help_text)
        for labels, value in samples:
            self.sample(name, value, labels)

    def histogram(
        self,
        name: str,
        help_text: str,
        series: Iterable[tuple[Labels, Sequence[float], Sequence[int], float | None]],
    ) -> None:
        """Each series: labels, upper bounds, counts per bucket (one more than the
        bounds: the last is above every bound), and the sum of observations if
        known (None: no `_sum` sample)."""
        self._family(name, "histogram", help_text)
        for labels, bounds, counts, total in series:
            running = 0
            for bound, count in zip(bounds, counts, strict=False):
                running += count
                self.sample(f"{name}_bucket", running, {**labels, "le": _number(bound)})
            running = sum(counts)
            self.sample(f"{name}_bucket", running, {**labels, "le": "+Inf"})
            if total is not None:
                self.sample(f"{name}_sum", total, labels)
            self.sample(f"{name}_count", running, labels)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class _Series:
    counts: list[int]
    total: float = 0.0


class RequestMetrics:
    """Requests this process answered: count by route and status, latency by route."""

    def __init__(self) -> None:
        self.responses: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], _Series] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.responses[(route, method, str(status))] += 1
        series = self.latency.get((route, method))
        if series is None:
            series = self.latency[(route, method)] = _Series([0] * (len(REQUEST_BOUNDS) + 1))
        series.counts[bisect.bisect_left(REQUEST_BOUNDS, seconds)] += 1
        series.total += seconds

    def write(self, out: Exposition) -> None:
        out.counter(
            "parley_api_responses_total",
            "HTTP responses of the API, by route template, method and status.",
            (
                ({"route": route, "method": method, "status": status}, count)
                for (route, method, status), count in sorted(self.responses.items())
            ),
        )
        out.histogram(
            "parley_api_request_duration_seconds",
            "Time from request to response, by route template.",
            (
                ({"route": route, "method": method}, REQUEST_BOUNDS, series.counts, series.total)
                for (route, method), series in sorted(self.latency.items())
            ),
        )
