"""Choosing the reply model: Gemini when a key is set, else the offline responder."""

from __future__ import annotations

from typing import Protocol

from parley.bridge.ports import ReplyModel
from parley.bridge.replies.config import GeminiSettings
from parley.bridge.replies.offline import OfflineReplyModel


class ClosableReplyModel(ReplyModel, Protocol):
    async def aclose(self) -> None:
        """Releases the model's connections; call once, when the process stops."""


def build_reply_model(settings: GeminiSettings) -> ClosableReplyModel:
    """The process's one reply model. Build it once and share it: its circuit breaker
    and concurrency limit only protect the service if every caller goes through them."""
    if not settings.api_key:
        return OfflineReplyModel()
    # Imported here so a machine without a key never loads the SDK.
    from parley.bridge.replies.gemini import GeminiReplyModel

    return GeminiReplyModel(settings)
