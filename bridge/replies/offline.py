"""The reply model of a machine without a Gemini key: it says plainly that the
assistant is offline, in the contact's tone and language. No network, no clock in
the text: the same context always gets the same words."""

from __future__ import annotations

import time

from parley.bridge.ports import GeneratedReply, ReplyContext
from parley.bridge.replies.fallback import offline_text

OFFLINE_MODEL = "parley-offline"


class OfflineReplyModel:
    """Answers every message with an offline notice. Its replies are not fallbacks
    (nothing failed: no model is configured); `model` says who wrote them."""

    name = "offline"

    async def generate(self, context: ReplyContext) -> GeneratedReply:
        started = time.perf_counter()
        text = offline_text(context)
        return GeneratedReply(
            text=text,
            model=OFFLINE_MODEL,
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason="OFFLINE",
        )

    async def aclose(self) -> None:
        """Nothing to release; here so every reply model closes the same way."""
