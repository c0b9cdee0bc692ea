"""Starting Chromium on the account's own profile folder.

The profile keeps WhatsApp Web's session (its IndexedDB and local storage), so a
restarted bridge is logged in again without a scan: what whatsapp-web.js calls
LocalAuth. Debian's Chromium is used, not a Playwright download.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

from parley.bridge.whatsapp_web.config import WebSettings
from parley.tools.config import ConfigError
from playwright.async_api import BrowserContext, Playwright

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Leaves navigator.webdriver unset, as in a browser a person runs.
    "--disable-blink-features=AutomationControlled",
)
_VERSION = re.compile(r"(\d+)\.\d+\.\d+\.\d+")


def find_chromium(settings: WebSettings) -> str:
    path = shutil.which(settings.chromium or "chromium")
    if path is None:
        name = settings.chromium or "chromium"
        msg = (
            f"PARLEY_WHATSAPP_WEB_CHROMIUM: {name!r} is not an executable on PATH "
            "(install Debian's chromium, or name the browser to run)"
        )
        raise ConfigError(msg)
    return path


async def user_agent_for(executable: str) -> str:
    """A plain Chrome user agent for this browser: a headless one names itself
    "HeadlessChrome", which WhatsApp Web turns away."""
    process = await asyncio.create_subprocess_exec(
        executable,
        "--version",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    except TimeoutError:
        process.kill()
        await process.wait()
        output = b""
    match = _VERSION.search(output.decode(errors="replace"))
    major = match.group(1) if match else "130"
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )


async def launch(
    playwright: Playwright,
    profile: Path,
    settings: WebSettings,
    *,
    executable: str,
    user_agent: str,
) -> BrowserContext:
    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    return await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=executable,
        headless=settings.headless,
        args=list(CHROMIUM_ARGS),
        user_agent=user_agent,
        viewport={"width": 1280, "height": 900},
    )
