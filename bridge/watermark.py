"""How far a concurrent follower of the log may say it has got.

Work for many threads runs at once and finishes out of order. The checkpoint is
the highest position below which everything is finished, so a restart from it
redoes only work that might not be done; the work itself is idempotent.
"""

from __future__ import annotations

import heapq


class Watermark:
    def __init__(self, start: int) -> None:
        self.done_up_to = start  # everything at or below this is finished
        self._open: list[int] = []  # dispatched, unfinished positions (a heap)
        self._finished: set[int] = set()
        self._highest_seen = start

    def dispatched(self, position: int) -> None:
        self._highest_seen = max(self._highest_seen, position)
        heapq.heappush(self._open, position)

    def finished(self, position: int) -> None:
        self._finished.add(position)
        while self._open and self._open[0] in self._finished:
            self._finished.discard(heapq.heappop(self._open))
        self.done_up_to = self._open[0] - 1 if self._open else self._highest_seen

    @property
    def in_flight(self) -> int:
        return len(self._open)
