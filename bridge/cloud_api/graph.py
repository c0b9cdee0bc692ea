"""Sending through the Graph API's messages endpoint, with a timeout and retries.

Retried: 429 and 5xx answers (WhatsApp did not take the message), honouring
Retry-After, and connections that could not be opened (nothing was sent).
Not retried: other 4xx answers (WhatsApp refused this message for good), and a
request that timed out or lost its connection after being sent, because
WhatsApp may have taken it and a retry could deliver the reply twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
from parley.bridge.cloud_api.config import CloudApiConfig

log = logging.getLogger(__name__)

OUTSIDE_WINDOW_CODE = 131047  # "Re-engagement message": more than 24 h since they wrote
MAX_RETRY_AFTER = 60.0
Sleep = Callable[[float], Awaitable[None]]


class GraphError(Exception):
    """Raised when the Graph API does not take a message."""


class GraphRefused(GraphError):
    """Raised when WhatsApp answered that it will not send this message."""

    def __init__(self, message: str, *, status: int, code: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphUnavailable(GraphError):
    """Raised when no attempt got an answer that accepted the message.
    `maybe_sent` is True when the last request may have reached WhatsApp."""

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class TextRequest:
    to: str  # digits only
    text: str
    quoted_message_id: str = ""
    outbound_id: str = ""  # echoed back by status webhooks

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": self.to,
            "type": "text",
            "text": {"preview_url": False, "body": self.text},
        }
        if self.quoted_message_id:
            body["context"] = {"message_id": self.quoted_message_id}
        if self.outbound_id:
            body["biz_opaque_callback_data"] = self.outbound_id
        return body


class GraphClient:
    def __init__(
        self,
        config: CloudApiConfig,
        session: aiohttp.ClientSession,
        *,
        sleep: Sleep = asyncio.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        self.config = config
        self.session = session
        self.sleep = sleep
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    async def send_text(self, request: TextRequest) -> str:
        """Sends and returns WhatsApp's message id; raises GraphRefused or
        GraphUnavailable."""
        headers = {
            "Authorization": f"Bearer {self.config.access_token}",
            "Content-Type": "application/json",
        }
        payload = orjson.dumps(request.body())
        timeout = aiohttp.ClientTimeout(total=self.config.send_timeout)
        last_problem = ""
        for attempt in range(1, self.config.send_attempts + 1):
            try:
                async with self.session.post(
                    self.config.messages_url, data=payload, headers=headers, timeout=timeout
                ) as response:
                    status = response.status
                    body = await response.read()
                    retry_after = response.headers.get("Retry-After")
            except aiohttp.ClientConnectorError as exc:
                # The connection never opened: nothing reached WhatsApp.
                last_problem = f"cannot connect to the Graph API: {exc.os_error or exc}"
                retry_after = None
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise GraphUnavailable(
                    f"the Graph API did not answer ({type(exc).__name__}); "
                    "the message may or may not have been sent",
                    maybe_sent=True,
                ) from exc
            else:
                if 200 <= status < 300:
                    return self._message_id(body)
                error = _error(body)
                if status != 429 and status < 500:
                    raise GraphRefused(
                        f"WhatsApp refused the message: {error.line}",
                        status=status,
                        code=error.code,
                    )
                last_problem = f"the Graph API answered {status}: {error.line}"
            if attempt == self.config.send_attempts:
                break
            pause = self._pause(attempt, retry_after)
            log.warning(
                "graph send retry",
                extra={"attempt": attempt, "pause_s": round(pause, 3), "problem": last_problem},
            )
            await self.sleep(pause)
        raise GraphUnavailable(last_problem, maybe_sent=False)

    def _pause(self, attempt: int, retry_after: str | None) -> float:
        told = _retry_after_seconds(retry_after)
        if told is not None:
            return min(told, MAX_RETRY_AFTER)
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)

    @staticmethod
    def _message_id(body: bytes) -> str:
        try:
            document = orjson.loads(body)
            message_id = document["messages"][0]["id"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            raise GraphUnavailable(
                "the Graph API accepted the message but its answer held no message id",
                maybe_sent=True,
            ) from exc
        if not isinstance(message_id, str) or not message_id:
            raise GraphUnavailable(
                "the Graph API answered with an empty message id", maybe_sent=True
            )
        return message_id


@dataclass(frozen=True)
class _GraphErrorBody:
    line: str
    code: int | None


def _error(body: bytes) -> _GraphErrorBody:
    """Meta's `{"error": {"message", "code", "error_data": {"details"}}}`, as one line."""
    try:
        error = orjson.loads(body)["error"]
        message = str(error.get("message") or "no message")
        code = error.get("code")
        details = error.get("error_data", {}).get("details") if isinstance(error, dict) else None
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        text = body[:200].decode("utf-8", "replace").strip()
        return _GraphErrorBody(line=text or "no error body", code=None)
    line = message + (f" (code {code})" if code is not None else "")
    if isinstance(details, str) and details:
        line += f": {details}"
    return _GraphErrorBody(line=line[:500], code=code if isinstance(code, int) else None)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
