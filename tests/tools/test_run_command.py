"""`parley run` (what `make run` starts): the embedded database, the bridge, the
projector and the API come up, a simulated message is answered and shows in the
read models, and SIGTERM stops everything, the database it started included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from parley.eventstore.embedded import EmbeddedServer, free_port


def get_json(url: str, token: str = "") -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def post_json(url: str, body: dict[str, str], token: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def test_parley_run_starts_everything_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PARLEY_API_PORT": str(port), "PARLEY_QUIET_HOURS": "none"}
    for key in ("PARLEY_MONGODB_URI", "PARLEY_API_TOKENS", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(key, None)
    run = subprocess.Popen(
        [sys.executable, "-m", "parley.tools.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert run.stdout is not None
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = run.stdout.readline()
            assert line, f"parley run ended early: {run.stderr.read() if run.stderr else ''}"
            banner += line
        assert f"dashboard:  {base}/#token=" in banner
        token = (tmp_path / ".parley" / "api-token").read_text().strip()
        assert token in banner
        health = get_json(f"{base}/api/v1/health")
        assert health["database"]["ok"] is True
        body = {"number": "447700900123", "name": "Grace", "relationship": "friend", "text": "hi!"}
        assert post_json(f"{base}/simulator/messages", body, token) in (200, 201, 202)
        deadline = time.monotonic() + 60
        while True:
            threads = get_json(f"{base}/api/v1/threads", token)["items"]
            if threads and threads[0]["counts"]["replies_sent"] == 1:
                break
            assert time.monotonic() < deadline, "the reply never showed in the read models"
            time.sleep(0.5)
        assert threads[0]["relationship"] == "friend"
    finally:
        run.send_signal(signal.SIGTERM)
        code = run.wait(timeout=90)
    assert code == 0
    assert EmbeddedServer(tmp_path / ".parley").status().state == "stopped"
    for name in ("bridge", "projector", "api"):
        log = (tmp_path / ".parley" / "logs" / f"{name}.log").read_text()
        assert '"level":"error"' not in log, name
