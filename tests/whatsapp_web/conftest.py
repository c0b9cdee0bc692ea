from __future__ import annotations

import io
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from parley.bridge.whatsapp_web import Timings, WebSettings, WhatsAppWebTransport
from testkit.fake_whatsapp import FakeWhatsApp
from testkit.fake_whatsapp.harness import FAST, MakeTransport


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("chromium") is None:
        skip = pytest.mark.skip(reason="Debian's chromium is not installed")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    server = FakeWhatsApp()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make_transport(tmp_path: Path, fake: FakeWhatsApp) -> AsyncIterator[MakeTransport]:
    """Builds transports on `fake` (or another URL), each stopped at the end."""
    made: list[WhatsAppWebTransport] = []

    def make(
        *, url: str = "", data_dir: Path | None = None, timings: Timings = FAST, **web: Any
    ) -> WhatsAppWebTransport:
        web.setdefault("typing_seconds", 0.05)
        transport = WhatsAppWebTransport(
            WebSettings(url=url or fake.url, **web),
            account="test",
            data_dir=data_dir or tmp_path,
            timings=timings,
            qr_output=io.StringIO(),
        )
        made.append(transport)
        return transport

    yield make
    for transport in made:
        await transport.stop()
