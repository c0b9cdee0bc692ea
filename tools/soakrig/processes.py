"""The Parley processes of a soak run, started and restarted as a supervisor would,
and the ways the harness ends them (SIGKILL, SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


@dataclass
class Incarnation:
    pid: int
    started: float  # time.monotonic()
    ended: float | None = None
    exit_code: int | None = None
    ended_by: str = ""  # "kill", "sigterm", "" while running, "exited" on its own


@dataclass
class Child:
    """One long-running process (a Parley command, or a helper server)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    incarnations: list[Incarnation] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def parley(
        cls, command: str, env: Mapping[str, str], cwd: Path, logs: Path, *extra: str
    ) -> Child:
        argv = [sys.executable, "-m", "parley.tools.cli", command, *extra]
        return cls(command, argv, env, cwd, logs / f"{command}.log")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running():
            return
        self._close_log()
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            list(self.argv),
            env=dict(self.env),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.incarnations.append(Incarnation(self.process.pid, time.monotonic()))
        log.info("started", extra={"child": self.name, "pid": self.process.pid})

    def kill(self) -> None:
        """SIGKILL, as a crash or the kernel's OOM killer would."""
        if self.process is None or not self.running():
            return
        self.process.kill()
        self.process.wait()
        self._ended("kill")

    async def terminate(self, grace: float) -> tuple[int | None, float]:
        """SIGTERM, then waits up to `grace` seconds; returns (exit code or None
        if it had to be killed, seconds it took)."""
        if self.process is None or not self.running():
            return (self.process.returncode if self.process else None), 0.0
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        process = self.process
        try:
            code: int | None = await asyncio.to_thread(process.wait, grace)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
            code = None
        self._ended("sigterm" if code is not None else "sigterm-timeout")
        return code, time.monotonic() - started

    def reap(self) -> Incarnation | None:
        """Notes an exit nobody asked for; returns the incarnation that ended."""
        if self.process is None or self.process.poll() is None:
            return None
        if self.incarnations and self.incarnations[-1].ended is None:
            self._ended("exited")
            return self.incarnations[-1]
        return None

    def _ended(self, how: str) -> None:
        if self.incarnations and self.incarnations[-1].ended is None:
            current = self.incarnations[-1]
            current.ended = time.monotonic()
            current.exit_code = self.process.returncode if self.process else None
            current.ended_by = how
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def close(self) -> None:
        if self.running():
            self.kill()
        self._close_log()


def rss_kib(pid: int) -> int | None:
    """Resident memory of a process from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time a process has used, from /proc, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / _TICKS, total / _TICKS


def tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""
