"""The dashboard in real Chromium (Playwright) against the real API and database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from testkit.api import TOKEN, inbound, open_parley
from testkit.browser_launch import launch_chromium
from testkit.seeding import (
    EPOCH,
    analytics_document,
    contact_document,
    inbound_message_document,
    reply_document,
    thread_document,
)

pytestmark = pytest.mark.browser

NUMBER = "15551234567"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            await context.close()
            await browser.close()


@pytest.fixture
def base_url(client: Any) -> str:
    return str(client.server.make_url("/"))


async def sign_in(page: Any, base_url: str, token: str = TOKEN) -> None:
    await page.goto(base_url)
    await page.fill("#token", token)
    await page.click("#sign-in-form button[type=submit]")


def seed_conversation(db: Any, thread_id: str, contact_id: str, texts: list[str]) -> dict:
    thread = thread_document(
        thread_id=thread_id,
        contact_id=contact_id,
        chat_id=f"{NUMBER}@c.us",
        contact_name="Ana Souza",
        last_text=texts[-1],
    )
    db["rm_threads"].insert_one(thread)
    messages = []
    for index, text in enumerate(texts):
        at = EPOCH - timedelta(minutes=10 - index)
        messages.append(
            inbound_message_document(
                thread, wa_message_id=f"w{index}", text=text, at=at, seq=10 + 2 * index
            )
        )
        messages.append(
            reply_document(
                thread,
                reply_id=f"r{index}",
                in_reply_to=f"w{index}",
                text=f"Reply {index}",
                at=at,
                seq=11 + 2 * index,
                status="failed" if index else "sent",
            )
        )
    db["rm_messages"].insert_many(messages)
    db["rm_contacts"].insert_one(
        contact_document(contact_id=contact_id, number=NUMBER, name="Ana Souza")
    )
    return thread


async def test_an_operator_signs_in_opens_a_conversation_and_edits_the_contact(
    client, db, browser_page, base_url, mongo_uri, database_name
):
    parley = open_parley(mongo_uri, database_name)
    try:
        intake = parley.receive(inbound(NUMBER, "Are we on for Friday?", EPOCH, wa_message_id="w0"))
        seed_conversation(
            db, str(intake.thread_id), str(intake.contact_id), ["Are we on for Friday?", "Hello?"]
        )
        page = browser_page
        await sign_in(page, base_url)
        await page.wait_for_selector(".thread-row")
        await page.click(f".thread-row[data-thread-id='{intake.thread_id}'] a")
        await page.wait_for_selector(".message")
        bubbles = await page.locator(".message .bubble").all_text_contents()
        assert bubbles == ["Are we on for Friday?", "Reply 0", "Hello?", "Reply 1"]
        statuses = await page.locator(".message.out .meta .badge").all_text_contents()
        assert "sent" in statuses
        assert "failed" in statuses

        await page.click("text=Contact profile")
        await page.wait_for_selector("#contact-form")
        await page.fill("#contact-form input[name=name]", "Ana Maria Souza")
        await page.select_option("#contact-form select[name=relationship]", "client")
        await page.fill("#contact-form input[name=topics]", "invoices, deadlines")
        await page.click("#contact-form button[type=submit]")
        await page.wait_for_selector("#status.ok")
        assert "Saved" in await page.text_content("#status")

        contact = await asyncio.to_thread(parley.get_contact, intake.contact_id)
        assert contact.name == "Ana Maria Souza"
        assert contact.relationship == "client"
        assert contact.custom_context.topics == ("invoices", "deadlines")

        # The edit is in the conversation's event history, read from the log.
        await page.goto(f"{base_url}#/threads/{intake.thread_id}")
        await page.click("text=Event history")
        await page.wait_for_selector("#audit td:has-text('Contact.ProfileEdited')")
        events = await page.locator("#audit tbody tr td:nth-child(3)").all_text_contents()
        assert events.count("Thread.MessageReceived") == 1
        assert events[-1] == "Contact.ProfileEdited"
    finally:
        parley.close()


async def test_a_wrong_token_is_refused_at_sign_in(client, browser_page, base_url):
    page = browser_page
    await sign_in(page, base_url, token="not-the-right-token-123")
    await page.wait_for_selector("#sign-in-error:has-text('not accepted')")
    assert await page.is_hidden("#nav")
    assert await page.evaluate("sessionStorage.getItem('parley.token')") is None


async def test_the_link_parley_api_prints_signs_in_and_keeps_the_token_out_of_the_address(
    client, db, browser_page, base_url
):
    page = browser_page
    db["rm_threads"].insert_one(thread_document())
    await page.goto(f"{base_url}#token={TOKEN}")
    await page.wait_for_selector(".thread-row")
    assert await page.evaluate("location.hash") == "#/threads"
    assert await page.evaluate("sessionStorage.getItem('parley.token')") == TOKEN
    assert await page.context.cookies() == []


async def blue_pixels(page: Any, canvas: str) -> int:
    """Pixels of the inbound series' colour (#2563eb) drawn on a canvas."""
    return await page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const { width, height } = canvas;
            const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
            let count = 0;
            for (let i = 0; i < data.length; i += 4) {
                const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                if (r === 37 && g === 99 && b === 235 && a === 255) count += 1;
            }
            return count;
        }""",
        canvas,
    )


async def test_the_analytics_charts_are_drawn_from_the_buckets(client, db, browser_page, base_url):
    day0 = EPOCH.replace(hour=0)
    db["rm_analytics"].insert_many(
        [analytics_document(bucket=day0 - timedelta(days=n), inbound=10 + 3 * n) for n in range(10)]
    )
    page = browser_page
    await sign_in(page, base_url)
    await page.wait_for_selector("#nav:not([hidden])")
    await page.goto(f"{base_url}#/analytics?from=2025-02-20&to=2025-03-01&granularity=day")
    await page.wait_for_selector("#analytics-summary:has-text('inbound')")
    assert await blue_pixels(page, "#chart-volume") > 500
    assert await blue_pixels(page, "#chart-latency") > 50
    summary = await page.text_content("#analytics-summary")
    assert summary.startswith(f"{sum(10 + 3 * n for n in range(10))} inbound")

    # The same view over a range with no data draws no bars (so the check above can fail).
    await page.goto(f"{base_url}#/analytics?from=2024-01-01&to=2024-01-10&granularity=day")
    await page.wait_for_selector("#analytics-summary:has-text('0 inbound')")
    assert await blue_pixels(page, "#chart-volume") == 0


async def test_a_stored_script_shows_as_text_and_does_not_run(client, db, browser_page, base_url):
    thread = thread_document(contact_name="<b>Bold</b> <i>name</i>", last_text=HOSTILE)
    db["rm_threads"].insert_one(thread)
    db["rm_messages"].insert_one(
        inbound_message_document(
            thread, wa_message_id="evil", text=HOSTILE, at=EPOCH, seq=1, topics=["<u>x</u>"]
        )
    )
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, base_url)
    await page.wait_for_selector(".thread-row")
    assert await page.text_content(".thread-row td.text") == HOSTILE
    await page.goto(f"{base_url}#/threads/{thread['_id']}")
    await page.wait_for_selector(".message .bubble")
    assert await page.text_content(".message .bubble") == HOSTILE
    assert await page.text_content("#thread-title") == "<b>Bold</b> <i>name</i>"
    assert await page.locator("#view script, #view img, #view b, #view u").count() == 0
    assert await page.evaluate("window.__pwned") is None
    assert dialogs == []


async def test_the_dashboard_asks_nothing_of_any_other_server(client, db, browser_page, base_url):
    db["rm_threads"].insert_one(thread_document())
    page = browser_page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await sign_in(page, base_url)
    await page.wait_for_selector(".thread-row")
    for view in ("contacts", "analytics", "persona", "health"):
        await page.goto(f"{base_url}#/{view}")
        await page.wait_for_selector(f"#nav a.active[data-view='{view}']")
        await page.wait_for_selector("#view h1")
    assert requested
    assert [url for url in requested if not url.startswith(base_url)] == []
