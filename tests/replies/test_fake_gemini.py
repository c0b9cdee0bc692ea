"""The fake Gemini server as the soak harness will use it: a separate process, with
latency and an error rate."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest
from parley.bridge.replies.config import GeminiSettings
from parley.bridge.replies.factory import build_reply_model
from parley.bridge.replies.fallback import reason_code
from parley.tools.fake_gemini import FakeGemini, Scripted
from testkit.contexts import make_context
from testkit.gemini import TEST_KEY, ModelFactory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def fake_process() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "parley.tools.fake_gemini"),
            *("--port", str(port), "--latency-ms", "5", "--error-rate", "0"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once it listens
        assert "fake gemini listening on" in line, line
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


async def test_the_fake_runs_as_a_process_the_sdk_can_talk_to(fake_process: str) -> None:
    model = build_reply_model(GeminiSettings(api_key=TEST_KEY, base_url=fake_process))
    try:
        replies = [await model.generate(make_context(inbound_text=f"ping {i}")) for i in range(3)]
    finally:
        await model.aclose()
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{fake_process}/_fake/stats") as response,
    ):
        stats = await response.json()

    assert [reply.text for reply in replies] == [
        f"(fake gemini) you said: ping {i}" for i in range(3)
    ]
    assert all(reply.prompt_tokens and reply.prompt_tokens > 0 for reply in replies)
    assert stats["requests"] == 3


async def test_the_configured_error_rate_answers_503(make_model: ModelFactory) -> None:
    failing = FakeGemini(error_rate=1.0)
    base_url = await failing.start()
    try:
        reply = await make_model(base_url=base_url, retries=1).generate(make_context())
    finally:
        await failing.stop()

    assert reason_code(reply.fallback_reason) == "server_error"
    assert len(failing.requests) == 2


async def test_stopping_the_fake_releases_a_request_it_never_answers() -> None:
    fake = FakeGemini()
    base_url = await fake.start()
    fake.enqueue(Scripted.never_answer())
    async with aiohttp.ClientSession() as session:
        pending = asyncio.create_task(
            session.post(f"{base_url}/v1beta/models/m:generateContent", json={"contents": []})
        )
        await asyncio.wait_for(fake.wait_for_requests(1), timeout=10)
        await asyncio.wait_for(fake.stop(), timeout=10)
        response = await asyncio.wait_for(pending, timeout=10)

    assert response.status == 503


async def test_an_outage_on_demand_fails_every_call_until_it_ends(
    make_model: ModelFactory,
) -> None:
    fake = FakeGemini()
    base_url = await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base_url}/_fake/outage", json={"seconds": 600}) as answer:
                assert answer.status == 200
            during = await make_model(base_url=base_url, retries=1).generate(make_context())
            async with session.post(f"{base_url}/_fake/outage", json={"seconds": 0}) as answer:
                assert answer.status == 200
            after = await make_model(base_url=base_url, retries=0).generate(make_context())
            async with session.post(f"{base_url}/_fake/outage", json={"seconds": -1}) as answer:
                assert answer.status == 400
            async with session.get(f"{base_url}/_fake/stats") as response:
                stats = await response.json()
    finally:
        await fake.stop()

    assert during.is_fallback
    assert reason_code(during.fallback_reason) == "server_error"
    assert not after.is_fallback
    assert (stats["requests"], stats["failed"]) == (3, 2)
