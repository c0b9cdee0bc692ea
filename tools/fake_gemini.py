"""A local stand-in for the Gemini REST API, for tests and soak runs.

It answers `POST /{version}/models/{model}:generateContent` in the real API's JSON
(camelCase, `candidates`, `usageMetadata`, `modelVersion`, `promptFeedback`, and
errors as `{"error": {"code", "message", "status"}}`), so the real google-genai
client can be pointed at it with `HttpOptions(base_url=...)`.

Tests use it in-process (`FakeGemini.start()`), queue scripted answers for the next
requests and read back what it received. As a process it serves a default reply
with configurable latency and error rate:

    python -m parley.tools.fake_gemini --port 8765 --latency-ms 200 --error-rate 0.05

and two control routes for a harness: `GET /_fake/stats` (counts) and
`POST /_fake/outage` with `{"seconds": 30}`, which fails every request with 503
for that long (an outage of the model service, on demand).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

DEFAULT_MODEL_VERSION = "gemini-2.5-flash-fake-001"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


# ------------------------------------------------------------- response bodies


def reply_body(
    text: str,
    *,
    finish_reason: str = "STOP",
    prompt_tokens: int = 12,
    response_tokens: int = 7,
    model_version: str = DEFAULT_MODEL_VERSION,
) -> dict[str, Any]:
    """A normal answer with one candidate."""
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": finish_reason,
                "index": 0,
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}
                ],
            }
        ],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": response_tokens,
            "totalTokenCount": prompt_tokens + response_tokens,
        },
        "modelVersion": model_version,
        "responseId": "fake-response",
    }


def safety_stopped_body(model_version: str = DEFAULT_MODEL_VERSION) -> dict[str, Any]:
    """A candidate the model stopped for safety: no text, finishReason SAFETY."""
    return {
        "candidates": [
            {
                "finishReason": "SAFETY",
                "index": 0,
                "safetyRatings": [
                    {
                        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                        "probability": "HIGH",
                        "blocked": True,
                    }
                ],
            }
        ],
        "usageMetadata": {"promptTokenCount": 15, "totalTokenCount": 15},
        "modelVersion": model_version,
    }


def prompt_blocked_body(
    reason: str = "SAFETY", model_version: str = DEFAULT_MODEL_VERSION
) -> dict[str, Any]:
    """The prompt itself was blocked: no candidates, promptFeedback.blockReason."""
    return {
        "promptFeedback": {
            "blockReason": reason,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}
            ],
        },
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": model_version,
    }


def empty_candidates_body(model_version: str = DEFAULT_MODEL_VERSION) -> dict[str, Any]:
    return {
        "candidates": [],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": model_version,
    }


def error_body(code: int, message: str = "", status: str = "") -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message or f"fake error {code}",
            "status": status or _STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }


# ------------------------------------------------------------------ scripting


@dataclass(frozen=True)
class Scripted:
    """One prepared answer. `hang` never answers (until the server stops)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    hang: bool = False

    @classmethod
    def json(
        cls, body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Scripted:
        return cls(status=status, body=orjson.dumps(body), headers=dict(headers or {}))

    @classmethod
    def reply(cls, text: str, **fields: Any) -> Scripted:
        return cls.json(reply_body(text, **fields))

    @classmethod
    def error(
        cls, code: int, *, retry_after: str | None = None, message: str = "", status: str = ""
    ) -> Scripted:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls.json(error_body(code, message, status), status=code, headers=headers)

    @classmethod
    def raw(cls, text: str, status: int = 200, content_type: str = "application/json") -> Scripted:
        return cls(status=status, body=text.encode(), content_type=content_type)

    @classmethod
    def never_answer(cls) -> Scripted:
        return cls(hang=True)


@dataclass(frozen=True)
class ReceivedRequest:
    version: str
    model: str
    method: str  # "generateContent", ...
    headers: Mapping[str, str]
    body: Any  # the decoded JSON, or the raw text when it was not JSON

    @property
    def system_instruction(self) -> str:
        """The text of every part of systemInstruction, joined by newlines."""
        instruction = self.body.get("systemInstruction") or {}
        return "\n".join(part.get("text", "") for part in instruction.get("parts", []))

    @property
    def contents(self) -> list[tuple[str, list[str]]]:
        """(role, [part texts]) for each content, in order."""
        return [
            (content.get("role", ""), [part.get("text", "") for part in content.get("parts", [])])
            for content in self.body.get("contents", [])
        ]


# --------------------------------------------------------------------- server


class FakeGemini:
    """The fake server. Scripted answers are used first, one per request, in order;
    then each request waits `latency_s`, fails with 503 at `error_rate`, or gets a
    default reply."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        error_rate: float = 0.0,
        seed: int = 0,
        model_version: str = DEFAULT_MODEL_VERSION,
        keep_requests: bool = True,
    ) -> None:
        self.latency_s = latency_s
        self.error_rate = error_rate
        self.model_version = model_version
        # A long-running process keeps counts only: every prompt kept would grow
        # its memory with the run.
        self.keep_requests = keep_requests
        self.requests: list[ReceivedRequest] = []
        self.request_count = 0
        self.failed_count = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._outage_until = 0.0  # loop time until which every request fails
        self._script: deque[Scripted] = deque()
        self._random = random.Random(seed)
        self._closing = asyncio.Event()
        self._arrival = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""  # set by start()

    def enqueue(self, *answers: Scripted) -> None:
        self._script.extend(answers)

    async def wait_for_requests(self, count: int) -> None:
        """Returns once `count` requests have arrived (answered or not)."""
        async with self._arrival:
            await self._arrival.wait_for(lambda: self.request_count >= count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/models/{model_and_method}", self._handle)
        app.router.add_get("/_fake/stats", self._stats)
        app.router.add_post("/_fake/outage", self._outage)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serves on `host:port` (0 picks a free port); returns the base URL."""
        self._closing.clear()
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_shutdown(self, app: web.Application) -> None:
        self._closing.set()  # releases handlers that were told never to answer

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": self.request_count,
                "failed": self.failed_count,
                "max_in_flight": self.max_in_flight,
                "outage_left_s": round(max(0.0, self._outage_until - _now()), 3),
            },
            dumps=lambda value: orjson.dumps(value).decode(),
        )

    def start_outage(self, seconds: float) -> None:
        """Fails every request that is not scripted with 503 for `seconds`."""
        self._outage_until = _now() + seconds

    async def _outage(self, request: web.Request) -> web.Response:
        try:
            seconds = float((await request.json())["seconds"])
        except (ValueError, KeyError, TypeError):
            return self._json(error_body(400, 'expected {"seconds": number}'), 400)
        if not 0 <= seconds <= 3600:
            return self._json(error_body(400, "seconds must be from 0 to 3600"), 400)
        self.start_outage(seconds)
        return self._json({"outage_seconds": seconds})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["model_and_method"].partition(":")
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode(errors="replace")
        self.request_count += 1
        if self.keep_requests:
            self.requests.append(
                ReceivedRequest(
                    version=request.match_info["version"],
                    model=model,
                    method=method,
                    headers=dict(request.headers),
                    body=body,
                )
            )
        async with self._arrival:
            self._arrival.notify_all()
        if method != "generateContent":
            return self._json(error_body(404, f"method {method!r} is not faked"), 404)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._script:
                return await self._play(self._script.popleft())
            return await self._default(body)
        finally:
            self.in_flight -= 1

    async def _play(self, answer: Scripted) -> web.Response:
        if answer.hang:
            await self._closing.wait()
            return self._json(error_body(503, "fake server shutting down"), 503)
        if answer.delay_s:
            await self._pause(answer.delay_s)
        return web.Response(
            status=answer.status,
            body=answer.body,
            content_type=answer.content_type,
            headers=answer.headers,
        )

    async def _default(self, body: Any) -> web.Response:
        if self.latency_s:
            await self._pause(self.latency_s)
        if _now() < self._outage_until:
            self.failed_count += 1
            return self._json(error_body(503, "the fake is in an outage"), 503)
        if self.error_rate and self._random.random() < self.error_rate:
            self.failed_count += 1
            return self._json(error_body(503, "the fake is configured to fail"), 503)
        text = _last_user_text(body)
        reply = f"(fake gemini) you said: {text[:80]}" if text else "(fake gemini) hello"
        prompt_tokens = max(1, len(orjson.dumps(body)) // 4)
        return self._json(
            reply_body(
                reply,
                prompt_tokens=prompt_tokens,
                response_tokens=max(1, len(reply) // 4),
                model_version=self.model_version,
            )
        )

    async def _pause(self, seconds: float) -> None:
        # Stopping the server ends the pause, so no handler outlives it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    @staticmethod
    def _json(body: Mapping[str, Any], status: int = 200) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _now() -> float:
    return asyncio.get_running_loop().time()


def _last_user_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for content in reversed(body.get("contents") or []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            texts = [part.get("text", "") for part in content.get("parts") or []]
            return " ".join(text for text in texts if isinstance(text, str))
    return ""


# ------------------------------------------------------------------- process


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m parley.tools.fake_gemini", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback only)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="0..1, answered with 503")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0.0 <= args.error_rate <= 1.0:
        parser.error("--error-rate must be between 0 and 1")
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    fake = FakeGemini(
        latency_s=args.latency_ms / 1000,
        error_rate=args.error_rate,
        seed=args.seed,
        keep_requests=False,
    )
    web.run_app(
        fake.app(),
        host=args.host,
        port=args.port,
        access_log=None,
        shutdown_timeout=1.0,
        print=lambda _: print(
            f"fake gemini listening on http://{args.host}:{args.port}", flush=True
        ),
    )


if __name__ == "__main__":
    main()
