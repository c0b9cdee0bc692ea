"""Shared pieces for tests that run reply models against the fake Gemini server."""

from __future__ import annotations

from collections.abc import Callable

from parley.bridge.replies.gemini import GeminiReplyModel

TEST_KEY = "test-key-not-secret"

# Builds a GeminiReplyModel on the fake server; keywords override GeminiSettings fields.
ModelFactory = Callable[..., GeminiReplyModel]
