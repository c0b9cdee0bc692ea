"""Running `parley` commands as real processes against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson


def parley_env(uri: str, database: str, data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_MONGODB_URI=uri,
        PARLEY_DATABASE=database,
        PARLEY_DATA_DIR=str(data_dir),
        PARLEY_LOG_LEVEL="DEBUG",
    )
    env.update(settings)
    return env


class ParleyProcess:
    """One `python -m parley.tools.cli ...` process; stderr goes to a file."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, label: str) -> None:
        self.log_path = workdir / f"{label}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "parley.tools.cli", *args],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no chance to commit, release or say goodbye."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()

    def log_lines(self) -> list[dict[str, Any]]:
        """The structured log lines written so far (other lines skipped)."""
        lines = []
        for raw in self.log_path.read_bytes().splitlines():
            try:
                lines.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue
        return lines
