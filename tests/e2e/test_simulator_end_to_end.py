"""The whole path a person on the simulator page takes, with every part real: the
API (with the simulator mounted) serving the page to Chromium, `parley bridge` as
its own process on the simulator transport, the write side, the reply process and
the embedded database. A message typed as a contact comes back answered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from parley.http.app import create_app
from parley.http.simulator import SimulatorExtension
from testkit.api import TOKEN, api_config
from testkit.browser_launch import launch_chromium

pytestmark = pytest.mark.browser


@pytest.fixture
def bridge(mongo_uri: str, database_name: str, tmp_path: Path) -> Iterator[None]:
    env = {
        **os.environ,
        "PARLEY_MONGODB_URI": mongo_uri,
        "PARLEY_DATABASE": database_name,
        "PARLEY_TRANSPORT": "simulator",
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_QUIET_HOURS": "none",
    }
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(key, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "parley.tools.cli", "bridge"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


@pytest.fixture
async def api(
    mongo_uri: str, database_name: str, bridge: None
) -> AsyncIterator[TestClient[Any, Any]]:
    extension = SimulatorExtension(mongo_uri, database_name, account="default")
    app = create_app(api_config(mongo_uri, database_name), extensions=[extension])
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_message_typed_on_the_simulator_page_comes_back_answered(
    api: TestClient[Any, Any],
) -> None:
    from playwright.async_api import async_playwright

    base = str(api.server.make_url("/"))
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        page = await browser.new_page()
        page.set_default_timeout(30_000)
        try:
            # Signing in on the dashboard leaves the token in this tab.
            await page.goto(f"{base}#token={TOKEN}")
            await page.wait_for_function("sessionStorage.getItem('parley.token') !== null")
            await page.goto(f"{base}simulator/")
            await page.fill("#number", "+44 7700 900123")
            await page.fill("#name", "Grace <b>Hopper</b>")
            await page.select_option("#relationship", "client")
            await page.click("#switch")
            await page.fill("#text", "Hello <script>window.__pwned=1</script>, are you open today?")
            await page.click("#send")
            reply = page.locator("#lines li.out")
            await reply.first.wait_for()
            assert "offline" in (await reply.first.inner_text()).lower()
            typed = page.locator("#lines li.in").first
            assert "<script>window.__pwned=1</script>" in await typed.inner_text()
            assert await page.evaluate("window.__pwned === undefined")
        finally:
            await browser.close()


async def test_posting_as_a_contact_needs_the_token(api: TestClient[Any, Any]) -> None:
    body = {"number": "447700900123", "name": "G", "relationship": "", "text": "hi"}
    page = await api.get("/simulator/")
    assert page.status == 200
    refused = await api.post("/simulator/messages", json=body)
    assert refused.status == 401
    accepted = await api.post(
        "/simulator/messages", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert accepted.status in (200, 201, 202)
