"""`parley run`: the embedded database (when no URI is set), the bridge, the
projector and the API, supervised together.

Each process runs as its own child (so one crashing cannot take the others
down), logs to `<data>/logs/<name>.log`, and is restarted with backoff if it
exits on its own. Ctrl-C or SIGTERM stops them all, gently first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from parley.eventstore.embedded import EmbeddedServer
from parley.tools.config import Settings

CHILDREN = ("bridge", "projector", "api")
STOP_GRACE = 30.0


@dataclass
class Child:
    name: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    log_file: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        if self.log_file is not None:
            self.log_file.close()
        self.log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "parley.tools.cli", self.name],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def api_token(settings: Settings) -> str:
    """The configured token, or one kept under the data folder for local use."""
    if settings.api_tokens:
        return settings.api_tokens[0]
    path = settings.data_dir / "api-token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def wait_for_api(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=2),  # noqa: S310
        ):
            return True
        time.sleep(0.3)
    return False


def run_command(settings: Settings) -> int:
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    env = dict(os.environ)
    env.update({k: v for k, v in settings.environ.items() if k not in env})
    server: EmbeddedServer | None = None
    started_database = False
    if settings.embedded:
        server = EmbeddedServer(settings.data_dir)
        started_database = server.status().state != "running"
        env["PARLEY_MONGODB_URI"] = server.ensure_running()
    token = api_token(settings)
    env["PARLEY_API_TOKENS"] = ",".join(settings.api_tokens) or token

    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children = [Child(name, logs / f"{name}.log") for name in CHILDREN]
    for child in children:
        child.start(env)

    url = f"http://{settings.api_host}:{settings.api_port}"
    database = f"embedded, under {settings.data_dir / 'db'}" if server else "the configured URI"
    # A token Parley made for local use goes in the link; a configured one is the
    # operator's secret and is not printed.
    sign_in = "(sign in with a token from PARLEY_API_TOKENS)" if settings.api_tokens else ""
    link = f"{url}/ {sign_in}" if sign_in else f"{url}/#token={token}"
    if wait_for_api(url, timeout=60):
        print(
            "\nParley is running.\n"
            f"  dashboard:  {link}\n"
            f"  simulator:  {url}/simulator/\n"
            f"  API token:  {'from PARLEY_API_TOKENS' if sign_in else token}\n"
            f"  transport:  {settings.transport}; reply model: "
            f"{'Gemini ' + settings.gemini_model if settings.gemini_api_key else 'offline'}\n"
            f"  database:   {database}\n"
            f"  logs:       {logs}/\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
    else:
        print(f"parley: the API did not answer at {url}; see {logs}/api.log", file=sys.stderr)

    try:
        while not stopping:
            now = time.monotonic()
            for child in children:
                if child.running() or stopping:
                    continue
                if child.process is not None and child.next_start == 0.0:
                    code = child.process.returncode
                    delay = min(30.0, 2.0**child.restarts)
                    child.restarts += 1
                    child.next_start = now + delay
                    print(
                        f"parley: {child.name} exited with code {code}; restarting in "
                        f"{delay:.0f}s (see {child.log_path})",
                        file=sys.stderr,
                        flush=True,
                    )
                elif now >= child.next_start:
                    child.next_start = 0.0
                    child.start(env)
            time.sleep(0.5)
    finally:
        print("parley: stopping...", file=sys.stderr, flush=True)
        stop_children(children)
        if server is not None and started_database:
            server.stop()
            print("parley: embedded database stopped", file=sys.stderr)
    return 0


def stop_children(children: list[Child]) -> None:
    for child in children:
        if child.running() and child.process is not None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
        if child.log_file is not None:
            child.log_file.close()
