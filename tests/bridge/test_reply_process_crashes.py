"""The reply process killed with SIGKILL at random moments, over and over: in the
end every inbound has exactly one reply, sent once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from parley.domain.application import ParleyApp
from parley.domain.thread import ReplyStatus
from parley.eventstore.embedded import free_port
from parley.eventstore.factory import factory_settings
from parley.eventstore.sessions import COLLECTION as SESSIONS
from testkit.inbound import T0, inbound

INBOUND = 200
CHATS = 40
TESTS_DIR = Path(__file__).resolve().parents[1]


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    return subprocess.Popen(
        [sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.fixture
def receiver() -> Iterator[str]:
    port = free_port()
    process = spawn("testkit.receiver", "--port", str(port), "--latency-ms", "30")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            import urllib.request

            urllib.request.urlopen(f"{url}/stats", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def stats(url: str) -> dict[str, object]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}/stats", timeout=5) as response:
        return dict(json.loads(response.read()))


def sent_replies(app: ParleyApp, thread_ids: set[object]) -> int:
    return sum(
        1
        for thread_id in thread_ids
        for reply in app.get_thread(thread_id).replies.values()  # type: ignore[arg-type]
        if reply["status"] is ReplyStatus.SENT
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(
    mongo_uri: str, database_name: str, receiver: str
) -> None:
    app = ParleyApp(env=factory_settings(mongo_uri, database_name))
    rng = random.Random(7)
    thread_ids = set()
    for index in range(INBOUND):
        number = f"49170{index % CHATS:05d}"
        at = T0 + timedelta(seconds=index)
        result = app.receive(inbound(f"message {index} from {number}", number=number, at=at))
        thread_ids.add(result.thread_id)

    kills = 0
    killed: list[int] = []
    deadline = time.monotonic() + 240
    sent = sent_replies(app, thread_ids)
    while sent < INBOUND and kills < 8:
        runner = spawn("testkit.reply_runner", mongo_uri, database_name, receiver)
        # Killed mid-work: once it has sent something new, at a random moment
        # after (a fixed delay would miss the work as it gets faster).
        while sent_replies(app, thread_ids) == sent and runner.poll() is None:
            assert time.monotonic() < deadline, "the reply process made no progress"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        killed.append(runner.pid)
        kills += 1
        sent = sent_replies(app, thread_ids)
    runner = spawn("testkit.reply_runner", mongo_uri, database_name, receiver)
    try:
        # Started, it frees the transactions its killed predecessors left open
        # (a database dropped behind one would hang the embedded server).
        ledger = app.recorder.datastore.db[SESSIONS]  # type: ignore[attr-defined]
        while ledger.count_documents({"pid": {"$in": killed}}):
            assert time.monotonic() < deadline, "dead processes' sessions were not cleared"
            assert runner.poll() is None, runner.stderr.read().decode() if runner.stderr else ""
            time.sleep(0.1)
        while sent_replies(app, thread_ids) < INBOUND:
            assert time.monotonic() < deadline, "replies did not all go out in time"
            assert runner.poll() is None, runner.stderr.read().decode() if runner.stderr else ""
            time.sleep(0.2)
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)

    received = stats(receiver)
    print(f"\nkills: {kills}, receiver: {received}")
    assert kills >= 3, "the process finished too fast to be killed mid-work"
    names = [n.topic.rsplit(".", 1)[-1] for n in app.event_log.select_notifications(1, 100_000)]
    assert names.count("MessageReceived") == INBOUND
    assert names.count("ReplyGenerated") == INBOUND
    assert names.count("ReplySent") == INBOUND
    assert names.count("ReplyFailed") == 0
    for thread_id in thread_ids:
        thread = app.get_thread(thread_id)  # type: ignore[arg-type]
        assert all(record["reply_id"] for record in thread.inbound.values())
        assert not thread.pending
        assert not thread.unsent
    assert received["sent"] == INBOUND
    assert received["repeated_ids"] == []
    assert received["repeated_texts"] == []
    assert received["send_requests"] == INBOUND
    app.close()
