"""A progress line for long rebuilds: position, events per second and time left.

On a terminal it redraws one line in place; elsewhere (a log file, a pipe) it
writes a plain line every few seconds and one at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(label: str, done: int, total: int, rate: float) -> str:
    fraction = 1.0 if total <= 0 else min(1.0, done / total)
    filled = round(fraction * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    eta = format_duration((total - done) / rate) if rate > 0 and done < total else "0:00"
    return (
        f"{label} [{bar}] {fraction:4.0%} {done:,}/{total:,} events {rate:,.0f} events/s ETA {eta}"
    )


class ProgressBar:
    """Reports `update(done, total)` calls to `stream`."""

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        tty: bool | None = None,
        every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty() if tty is None else tty
        self.every = every
        self.clock = clock
        self._started = clock()
        self._start_done: int | None = None
        self._last_shown = float("-inf")
        self._last = ""

    def update(self, done: int, total: int) -> None:
        now = self.clock()
        if self._start_done is None:
            self._start_done = done
        elapsed = now - self._started
        rate = (done - self._start_done) / elapsed if elapsed > 0 else 0.0
        self._last = progress_line(self.label, done, total, rate)
        if self.tty:
            self.stream.write("\r" + self._last + "\x1b[K")
            self.stream.flush()
        elif now - self._last_shown >= self.every:
            self._last_shown = now
            self.stream.write(self._last + "\n")
            self.stream.flush()

    def finish(self, done: int, total: int) -> None:
        """Shows the final figures and ends the line."""
        self._last_shown = float("-inf")
        self.update(done, total)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
