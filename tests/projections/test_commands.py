"""`parley replay`, `parley audit` and `parley events tail` as a person runs them."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from parley.domain.application import ParleyApp
from parley.projections.registry import PROJECTION_NAMES
from testkit.live import LiveHistory
from testkit.processes import ParleyProcess, parley_env
from testkit.readmodels import T0, inbound, read_model, wait_for


def run(args: list[str], env: dict[str, str], workdir: Path, label: str) -> tuple[int, str, str]:
    process = ParleyProcess(args, env, workdir, label)
    try:
        assert process.process.stdout is not None
        out = process.process.stdout.read().decode()
        code = process.process.wait(timeout=120)
    finally:
        process.close()
    return code, out, process.log_path.read_text()


@pytest.fixture
def env(mongo_uri: str, database_name: str, tmp_path: Path) -> dict[str, str]:
    return parley_env(mongo_uri, database_name, tmp_path, PARLEY_LOG_LEVEL="WARNING")


def test_replay_all_rebuilds_every_read_model_with_a_progress_line(
    live_history: LiveHistory, log_copy: ParleyApp, env: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = run(["replay", "--all", "--shadow"], env, tmp_path, "replay")
    assert code == 0, err
    head = live_history.report.events
    assert out.startswith(
        f"rebuilt {', '.join(PROJECTION_NAMES)} in a shadow, swapped in to position {head}:"
    )
    progress = [line for line in err.splitlines() if "events/s" in line]
    assert progress, err
    assert "\r" not in err  # not a terminal: plain lines
    assert progress[-1].startswith("threads,messages,contacts,context,analytics [####")
    assert f"{head:,}/{head:,} events" in progress[-1]
    for name in PROJECTION_NAMES:
        assert read_model(log_copy, name) == read_model(live_history.app, name)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "gossip"], "parley: no read model named 'gossip'"),
        (["replay"], "parley: name the read models to rebuild"),
        (["replay", "threads", "--all"], "parley: name the read models to rebuild"),
        (["audit", "not-a-chat"], "parley: 'not-a-chat' is not a chat id or a phone number"),
        (["audit", "+4915100000001", "--as-of", "last week"], "parley: 'last week' is not a time"),
    ],
)
def test_a_mistake_is_one_line_and_exit_code_2(
    args: list[str], message: str, env: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = run(args, env, tmp_path, "mistake")
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(message), err


def test_audit_prints_a_chat_by_phone_number_readable_or_as_json(
    mongo_uri: str, database_name: str, env: dict[str, str], tmp_path: Path
) -> None:
    from testkit.readmodels import make_app

    app = make_app(mongo_uri, database_name)
    try:
        app.receive(inbound("4915100000001@c.us", "w1", "Hello\nthere", T0))
        app.receive(inbound("4915100000002@c.us", "x1", "someone else", T0))
    finally:
        app.close()
    code, out, err = run(["audit", "+49 151 00000001"], env, tmp_path, "audit")
    assert code == 0, err
    lines = out.splitlines()
    assert "Contact.Registered" in lines[0]
    assert any("Thread.MessageReceived" in line and '"Hello\\nthere"' in line for line in lines)
    assert not any("someone else" in line for line in lines)
    code, out, _ = run(["audit", "4915100000001@c.us", "--json"], env, tmp_path, "audit-json")
    entries = [orjson.loads(line) for line in out.splitlines()]
    assert [e["position"] for e in entries] == sorted(e["position"] for e in entries)
    assert {e["aggregate"] for e in entries} == {"Contact", "Conversation", "Thread"}
    code, out, err = run(["audit", "+49 151 00000009"], env, tmp_path, "audit-none")
    assert (code, out) == (1, "")
    assert "no events recorded for chat 4915100000009@c.us" in err


def test_events_tail_prints_each_new_event_until_terminated(
    log_copy: ParleyApp, env: dict[str, str], tmp_path: Path
) -> None:
    head = log_copy.recorder.max_notification_id()
    tail = ParleyProcess(["events", "tail", "--json", "--from", str(head)], env, tmp_path, "tail")
    lines: list[dict[str, object]] = []

    def read() -> None:
        assert tail.process.stdout is not None
        for raw in tail.process.stdout:
            lines.append(orjson.loads(raw))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        log_copy.receive(inbound("4915100000088@c.us", "t1", "tail me", T0 + timedelta(days=400)))
        new_head = log_copy.recorder.max_notification_id()
        wait_for(lambda: len(lines) == new_head - head, timeout=60, what="the tail to print")
        assert tail.terminate() == 0
    finally:
        tail.close()
    assert [line["position"] for line in lines] == list(range(head + 1, new_head + 1))
    received = [line for line in lines if line["event"] == "Thread.MessageReceived"]
    assert received[0]["data"]["text"] == "tail me"  # type: ignore[index]
