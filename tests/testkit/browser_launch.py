"""Launching Debian's Chromium through Playwright (its own download cannot work here)."""

from __future__ import annotations

import shutil

import pytest
from playwright.async_api import Browser, Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def launch_chromium(playwright: Playwright) -> Browser:
    """The system Chromium, headless; skips the test when there is none."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (see `make chromium`)")
    return await playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
