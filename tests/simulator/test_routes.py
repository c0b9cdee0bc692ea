"""The simulator's HTTP routes on a real socket, fed by the real transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from pymongo.database import Database
from testkit.echo_sink import EchoSink

NUMBER = "447700900123"


async def lines_of(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The `line` events of a server-sent-events stream."""
    event = ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "line":
            yield orjson.loads(line.removeprefix("data: "))


async def test_a_posted_message_and_its_reply_arrive_on_the_stream(
    api_url: str, echo: EchoSink
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{api_url}/simulator/messages",
            json={"number": NUMBER, "name": "Alex", "relationship": "client", "text": "Hi 👋"},
        ) as response:
            assert response.status == 201
            posted = await response.json()
        assert posted["chat_id"] == f"{NUMBER}@c.us"

        seen: list[dict[str, Any]] = []
        async with http.get(f"{api_url}/simulator/stream", params={"number": NUMBER}) as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            async with asyncio.timeout(20):
                async for line in lines_of(stream):
                    seen.append(line)
                    if line["direction"] == "out":
                        break

    incoming, reply = seen
    assert (incoming["id"], incoming["text"], incoming["name"]) == (posted["id"], "Hi 👋", "Alex")
    assert (reply["text"], reply["quoted"]) == ("Echo: Hi 👋", posted["id"])
    assert echo.messages[0].extra == {"relationship": "client"}


async def test_a_reply_written_later_is_pushed_to_an_open_stream(
    api_url: str, echo: EchoSink
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{api_url}/simulator/stream", params={"number": NUMBER}) as stream,
    ):
        # The stream is open before anything is posted.
        assert await stream.content.readline() == b"retry: 2000\n"
        async with http.post(
            f"{api_url}/simulator/messages", json={"number": NUMBER, "text": "still there?"}
        ) as response:
            assert response.status == 201
        texts: list[str] = []
        async with asyncio.timeout(20):
            async for line in lines_of(stream):
                texts.append(line["text"])
                if len(texts) == 2:
                    break
    assert texts == ["still there?", "Echo: still there?"]


async def test_bad_posts_are_refused_with_one_clear_line_and_store_nothing(
    api_url: str, db: Database[dict[str, Any]]
) -> None:
    url = f"{api_url}/simulator/messages"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data="number=1&text=hi") as response:
            assert response.status == 415
        async with http.post(
            url, data=b"{oops", headers={"Content-Type": "application/json"}
        ) as response:
            assert (response.status, (await response.json())["error"]) == (400, "body is not JSON")
        async with http.post(url, json={"number": "abc", "text": "hi"}) as response:
            assert response.status == 400
            assert "number must be 5 to 15 digits" in (await response.json())["error"]
        async with http.post(url, json={"number": NUMBER, "text": "x" * 70_000}) as response:
            assert response.status == 413
        async with http.get(f"{api_url}/simulator/stream") as response:
            assert response.status == 400
    assert db["simulator_inbox"].count_documents({}) == 0


async def test_the_page_and_its_assets_are_served_with_a_strict_policy(api_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api_url}/simulator", allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (302, "/simulator/")
        async with http.get(f"{api_url}/simulator/") as response:
            assert response.status == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            page = await response.text()
        assert '<script src="static/app.js" defer></script>' in page
        async with http.get(f"{api_url}/simulator/static/app.js") as response:
            assert response.status == 200
            script = await response.text()
        async with http.get(f"{api_url}/simulator/static/style.css") as response:
            assert response.status == 200
            style = await response.text()
        assert "textContent" in script
        assert "innerHTML" not in script
        for asset in (page, script, style):  # nothing is loaded from elsewhere
            assert "://" not in asset
            assert "@import" not in asset
        for missing in ("secret.txt", "..%2Fsimulator.py", "index.html"):
            async with http.get(f"{api_url}/simulator/static/{missing}") as response:
                assert response.status == 404
