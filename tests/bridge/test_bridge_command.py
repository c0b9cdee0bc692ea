"""`parley bridge` as a process, on the simulator transport: a message posted the
way the simulator page posts it gets a reply, the bridge reports its state, and
SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from parley.bridge.simulator import SimulatedMessage, SimulatorMailbox
from pymongo import MongoClient


def test_the_bridge_answers_a_simulated_message_and_stops_on_sigterm(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    persona = tmp_path / "persona.json"
    persona.write_text('{"name": "Ada", "organisation": "Ada Studio", "services": ["design"]}')
    env = {
        **os.environ,
        "PARLEY_MONGODB_URI": mongo_uri,
        "PARLEY_DATABASE": database_name,
        "PARLEY_TRANSPORT": "simulator",
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_PERSONA_FILE": str(persona),
        "PARLEY_QUIET_HOURS": "none",
    }
    env.pop("GEMINI_API_KEY", None)
    env.pop("GOOGLE_API_KEY", None)
    bridge = subprocess.Popen(
        [sys.executable, "-m", "parley.tools.cli", "bridge"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri, tz_aware=True)
    try:
        db = client[database_name]
        mailbox = SimulatorMailbox(db, "default")
        mailbox.create_indexes()
        message = SimulatedMessage("447700900123", "Grace", "client", "<b>Hi</b>, are you open?")
        mailbox.post(message, datetime.now(UTC))
        deadline = time.monotonic() + 60
        reply = None
        while reply is None:
            assert bridge.poll() is None, bridge.stderr.read().decode() if bridge.stderr else ""
            assert time.monotonic() < deadline, "no reply from the bridge"
            reply = db["simulator_outbox"].find_one({"chat_id": "447700900123@c.us"})
            time.sleep(0.2)
        assert "offline" in str(reply["text"]).lower()
        status = db["bridge_status"].find_one({"_id": "default"})
        assert status is not None
        assert status["transport"] == "simulator"
        assert status["state"] == "ready"
    finally:
        bridge.send_signal(signal.SIGTERM)
        code = bridge.wait(timeout=60)
        client.close()
    logs = bridge.stderr.read().decode() if bridge.stderr else ""
    assert code == 0, logs[-2000:]
    assert '"msg":"bridge stopped"' in logs
