"""A stand-in for WhatsApp's side of sending, run as its own process so it
outlives the reply process a test kills. It remembers every send it is asked
for, notices any outbound id or text that arrives twice, and answers lookups.

    python -m testkit.receiver --port N [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections import Counter

from aiohttp import web


def build_app(latency_ms: float) -> web.Application:
    sent: dict[str, dict[str, str]] = {}
    texts: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    found_on_lookup: list[str] = []

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        outbound_id = str(body["outbound_id"])
        requests[outbound_id] += 1
        # A delay before the send "happens" and one after: a client killed in
        # either window leaves the reply process to find out what happened.
        await asyncio.sleep(random.uniform(0, latency_ms) / 1000)
        texts[str(body["text"])] += 1
        sent.setdefault(outbound_id, {"wa_message_id": f"wa-{outbound_id}", **body})
        await asyncio.sleep(random.uniform(0, latency_ms) / 1000)
        return web.json_response({"wa_message_id": f"wa-{outbound_id}"})

    async def lookup(request: web.Request) -> web.Response:
        found = sent.get(request.query["outbound_id"])
        if found is not None:
            found_on_lookup.append(request.query["outbound_id"])
        return web.json_response({"sent": found is not None, **(found or {})})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "sent": len(sent),
                "send_requests": sum(requests.values()),
                "repeated_ids": sorted(k for k, n in requests.items() if n > 1),
                "repeated_texts": sorted(k for k, n in texts.items() if n > 1),
                "found_already_sent_on_lookup": len(found_on_lookup),
            }
        )

    app = web.Application()
    app.add_routes([web.post("/send", send), web.get("/lookup", lookup), web.get("/stats", stats)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    web.run_app(build_app(args.latency_ms), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
