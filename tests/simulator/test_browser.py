"""The whole path in a real Chromium: page -> API -> inbox -> transport -> sink ->
send_text -> outbox -> stream -> page."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, async_playwright, expect
from testkit.browser_launch import launch_chromium
from testkit.echo_sink import EchoSink

pytestmark = pytest.mark.browser


async def chat_as(page: Page, number: str, name: str, relationship: str) -> None:
    await page.fill("#number", number)
    await page.fill("#name", name)
    await page.select_option("#relationship", relationship)
    await page.click("#switch")
    await expect(page.locator("#connection")).to_have_text("connected", timeout=15_000)


async def send(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send")


async def test_a_person_chats_as_a_contact_and_sees_the_reply_arrive(
    api_url: str, echo: EchoSink
) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            outside: list[str] = []
            page.on(
                "request",
                lambda request: (
                    outside.append(request.url) if not request.url.startswith(api_url) else None
                ),
            )
            await page.goto(f"{api_url}/simulator/")
            await chat_as(page, "+1 555 010 9999", "Dana Client", "client")

            await send(page, "Do you open on Saturdays?")

            reply = page.locator("#lines .line.out .text")
            await expect(reply).to_have_text(["Echo: Do you open on Saturdays?"], timeout=20_000)
            await expect(page.locator("#lines .line.in .text")).to_have_text(
                ["Do you open on Saturdays?"]
            )
            await expect(page.locator("#text")).to_have_value("")
        finally:
            await browser.close()

    [message] = echo.messages
    assert message.chat_id == "15550109999@c.us"
    assert message.push_name == "Dana Client"
    assert message.extra == {"relationship": "client"}
    assert outside == []  # nothing was loaded from anywhere else


async def test_markup_typed_by_the_person_is_shown_as_text(api_url: str, echo: EchoSink) -> None:
    typed = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            await page.goto(f"{api_url}/simulator/")
            await chat_as(page, "447700900123", "<b>Mallory</b>", "friend")

            await send(page, typed)

            await expect(page.locator("#lines .line.out .text")).to_have_text(
                [f"Echo: {typed}"], timeout=20_000
            )
            await expect(page.locator("#lines .line.in .text")).to_have_text([typed])
            await expect(page.locator("#lines .line.in .meta")).to_contain_text("<b>Mallory</b>")
            assert await page.locator("#lines script, #lines img, #lines b").count() == 0
            assert await page.evaluate("window.pwned") is None
        finally:
            await browser.close()

    assert echo.messages[0].text == typed  # stored as written
