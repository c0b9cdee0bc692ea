"""Gemini behind the `ReplyModel` port, on the async google-genai client.

One reply = one or more calls. Each call passes the circuit breaker, waits for a
slot under the concurrency limit and has its own timeout; 429, 5xx, timeouts and
broken connections are retried with backoff and jitter (a Retry-After is a floor)
while the reply's deadline allows. The SDK's own retrying is switched off so that
all of this stays in one place. Whatever goes wrong, `generate` answers: a fallback
reply that fits the relationship, marked as such, with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pydantic
from google import genai
from google.genai import errors, types
from parley.bridge.ports import GeneratedReply, ReplyContext
from parley.bridge.replies.config import GeminiSettings
from parley.bridge.replies.fallback import (
    FALLBACK_MODEL,
    FallbackCode,
    fallback_reason,
    fallback_text,
)
from parley.bridge.replies.prompt import HistoryBudget, Prompt, build_prompt
from parley.bridge.replies.resilience import (
    CircuitBreaker,
    ConcurrencyLimit,
    Permit,
    RetryPolicy,
    Sleep,
    SlotUnavailable,
    parse_duration,
    parse_retry_after,
)

log = logging.getLogger(__name__)

# Finish reasons that mean the model withheld its answer: the text, if any, is not sent.
_WITHHELD = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "LANGUAGE",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
    }
)


@dataclass(frozen=True)
class CallFailed:
    """Why one call gave no response, and what that means for the next one."""

    code: FallbackCode
    detail: str
    retryable: bool
    service_fault: bool  # counts against the circuit breaker
    retry_after_s: float | None = None


class GeminiReplyModel:
    name = "gemini"

    def __init__(
        self,
        settings: GeminiSettings,
        *,
        breaker: CircuitBreaker | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not settings.api_key:
            msg = "GeminiReplyModel needs an API key; use build_reply_model for the offline default"
            raise ValueError(msg)
        self.settings = settings
        self.breaker = breaker or shared_breaker(settings)
        self.limit = ConcurrencyLimit(settings.max_concurrency)
        self.retry = RetryPolicy(
            retries=settings.retries,
            initial_s=settings.backoff_ms / 1000,
            max_s=settings.backoff_max_ms / 1000,
            rng=rng or random.Random(),
        )
        self._sleep = sleep
        self._budget = HistoryBudget(settings.history_turns, settings.history_chars)
        self._timeout_s = settings.timeout_ms / 1000
        self._client = genai.Client(
            api_key=settings.api_key,
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=settings.base_url,
                api_version=settings.api_version,
                timeout=settings.timeout_ms,
                # One attempt: also turns off the SDK's hidden retry of broken connections.
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )
        self._config = types.GenerateContentConfig(
            thinking_config=(
                types.ThinkingConfig(thinking_budget=settings.thinking_budget)
                if settings.thinking_budget is not None
                else None
            ),
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()

    async def generate(self, context: ReplyContext) -> GeneratedReply:
        started = time.perf_counter()
        extra = {"chat_id": context.chat_id, "account": context.account}
        try:
            prompt = build_prompt(context, self._budget)
            outcome = await self._call_with_retries(prompt, started, extra)
            if isinstance(outcome, CallFailed):
                reply = self._fallback(context, fallback_reason(outcome.code, outcome.detail))
            else:
                reply = self._read(outcome, context)
        except Exception:
            log.exception("gemini reply failed unexpectedly", extra=extra)
            reply = self._fallback(
                context, fallback_reason(FallbackCode.INTERNAL, "unexpected error, see the log")
            )
        reply = replace(reply, latency_ms=(time.perf_counter() - started) * 1000)
        if reply.is_fallback:
            log.warning(
                "gemini reply fell back",
                extra={**extra, "reason": reply.fallback_reason, "latency_ms": reply.latency_ms},
            )
        else:
            log.info(
                "gemini replied",
                extra={
                    **extra,
                    "model": reply.model,
                    "latency_ms": reply.latency_ms,
                    "prompt_tokens": reply.prompt_tokens,
                    "response_tokens": reply.response_tokens,
                    "finish_reason": reply.finish_reason,
                },
            )
        return reply

    # ------------------------------------------------------------- calling

    async def _call_with_retries(
        self, prompt: Prompt, started: float, extra: dict[str, str]
    ) -> types.GenerateContentResponse | CallFailed:
        deadline = started + self.settings.deadline_ms / 1000
        # Plain dicts, not `types.Content`: the SDK sends the same body either way,
        # but validates model instances field by field again, which cost 5.7 ms
        # of CPU for a 21-turn conversation against 2.3 ms for dicts.
        contents: list[types.ContentDict] = [
            {"role": turn.role, "parts": [{"text": text} for text in turn.parts]}
            for turn in prompt.turns
        ]
        config = self._config.model_copy(update={"system_instruction": prompt.system_instruction})
        last: CallFailed | None = None
        for attempt in range(1, self.retry.retries + 2):
            permit = self.breaker.try_acquire()
            if permit is None:
                after = f" after {last.code.value}: {last.detail}" if last else ""
                return CallFailed(
                    FallbackCode.CIRCUIT_OPEN,
                    f"the circuit is open{after}",
                    retryable=False,
                    service_fault=False,
                )
            try:
                outcome = await self._call(permit, contents, config, deadline)
            finally:
                permit.release()
            if not isinstance(outcome, CallFailed):
                return outcome
            last = outcome
            log.warning(
                "gemini call failed",
                extra={**extra, "attempt": attempt, "code": last.code, "detail": last.detail},
            )
            if not last.retryable:
                return last
            if attempt > self.retry.retries:
                return replace(last, detail=f"{last.detail} (after {attempt} attempts)")
            delay = self.retry.delay(attempt, last.retry_after_s)
            if time.perf_counter() + delay >= deadline:
                return replace(
                    last, detail=f"{last.detail} (no time left to wait {delay:.2f} s and retry)"
                )
            await self._sleep(delay)
        raise AssertionError("the loop returns on its last attempt")

    async def _call(
        self,
        permit: Permit,
        contents: list[types.ContentDict],
        config: types.GenerateContentConfig,
        deadline: float,
    ) -> types.GenerateContentResponse | CallFailed:
        timeout = self._timeout_s
        try:
            async with self.limit.slot(max(0.0, deadline - time.perf_counter())):
                timeout = max(0.0, min(timeout, deadline - time.perf_counter()))
                async with asyncio.timeout(timeout):
                    response = await self._client.aio.models.generate_content(
                        model=self.settings.model, contents=contents, config=config
                    )
        except SlotUnavailable:
            # Our own capacity, not the service's health: the breaker is not told.
            return CallFailed(
                FallbackCode.BUSY,
                "no call slot came free before the deadline",
                retryable=False,
                service_fault=False,
            )
        except Exception as exc:
            failure = _classify(exc, timeout)
            if failure is None:
                raise
            if failure.service_fault:
                permit.failed()
            return failure
        permit.succeeded()
        return response

    # ------------------------------------------------------------- reading

    def _read(
        self, response: types.GenerateContentResponse, context: ReplyContext
    ) -> GeneratedReply:
        usage = response.usage_metadata
        prompt_tokens = usage.prompt_token_count if usage else None
        response_tokens = usage.candidates_token_count if usage else None
        model = response.model_version or self.settings.model

        def fallback(code: FallbackCode, detail: str, finish: str = "") -> GeneratedReply:
            return replace(
                self._fallback(context, fallback_reason(code, detail)),
                prompt_tokens=prompt_tokens,
                response_tokens=response_tokens,
                finish_reason=finish,
            )

        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            blocked = _name(feedback.block_reason)
            return fallback(FallbackCode.BLOCKED, f"prompt blocked ({blocked}) by {model}", blocked)
        candidates = response.candidates or []
        if not candidates:
            if usage is None and response.model_version is None and feedback is None:
                return fallback(FallbackCode.MALFORMED, "an answer without any field of the API")
            return fallback(FallbackCode.NO_CANDIDATES, f"{model} answered with no candidates")
        candidate = candidates[0]
        finish = _name(candidate.finish_reason) if candidate.finish_reason is not None else ""
        if finish in _WITHHELD:
            return fallback(FallbackCode.BLOCKED, f"reply stopped ({finish}) by {model}", finish)
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(part.text for part in parts if part.text and not part.thought).strip()
        if not text:
            detail = f"{model} gave a candidate without text (finish reason {finish or 'none'})"
            return fallback(FallbackCode.EMPTY_REPLY, detail, finish)
        return GeneratedReply(
            text=text,
            model=model,
            latency_ms=0.0,  # set by generate, which saw the whole reply
            prompt_tokens=prompt_tokens,
            response_tokens=response_tokens,
            finish_reason=finish,
        )

    def _fallback(self, context: ReplyContext, reason: str) -> GeneratedReply:
        return GeneratedReply(
            text=fallback_text(context),
            model=FALLBACK_MODEL,
            latency_ms=0.0,
            is_fallback=True,
            fallback_reason=reason,
        )


# ------------------------------------------------------------------ helpers

_BREAKERS: dict[tuple[str, str, int, int], CircuitBreaker] = {}


def shared_breaker(settings: GeminiSettings) -> CircuitBreaker:
    """The process's one breaker for an endpoint and model: every GeminiReplyModel
    built for them shares it, so a second instance cannot hammer a failing service."""
    key = (
        settings.base_url or "",
        settings.model,
        settings.breaker_failures,
        settings.breaker_open_ms,
    )
    breaker = _BREAKERS.get(key)
    if breaker is None:
        breaker = _BREAKERS[key] = CircuitBreaker(
            settings.breaker_failures,
            settings.breaker_open_ms / 1000,
            name=f"gemini:{settings.model}",
        )
    return breaker


def _classify(exc: Exception, timeout_s: float) -> CallFailed | None:
    """What a call's exception means; None for one that is not model trouble."""
    if isinstance(exc, TimeoutError):
        return _transient(FallbackCode.TIMEOUT, f"no answer within {timeout_s:.3g} s")
    if isinstance(exc, errors.APIError):
        code = exc.code or 0
        detail = f"{code} {exc.status or ''}".strip()
        if code == 429:
            return _transient(FallbackCode.RATE_LIMITED, detail, _retry_after(exc))
        if code == 408:
            return _transient(FallbackCode.TIMEOUT, detail)
        if code >= 500:
            return _transient(FallbackCode.SERVER_ERROR, detail, _retry_after(exc))
        # Our request or our key is wrong: retrying cannot help, the service is fine.
        message = " ".join(str(exc.message or "").split())[:200]
        return CallFailed(
            FallbackCode.REJECTED,
            f"{detail} {message}".strip(),
            retryable=False,
            service_fault=False,
        )
    if isinstance(exc, json.JSONDecodeError | errors.UnknownApiResponseError):
        return _broken("the body is not JSON")
    if isinstance(exc, pydantic.ValidationError):
        return _broken("the JSON does not fit the API")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return _transient(FallbackCode.UNREACHABLE, type(exc).__name__)
    return None


def _transient(code: FallbackCode, detail: str, retry_after_s: float | None = None) -> CallFailed:
    return CallFailed(code, detail, retryable=True, service_fault=True, retry_after_s=retry_after_s)


def _broken(detail: str) -> CallFailed:
    # A garbled answer says the service is unwell, but the same request would
    # likely get the same garbage.
    return CallFailed(FallbackCode.MALFORMED, detail, retryable=False, service_fault=True)


def _retry_after(exc: errors.APIError) -> float | None:
    """The wait the server asked for: the Retry-After header (the SDK keeps the aiohttp
    or httpx response on the error), else a google.rpc.RetryInfo in the error body."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is not None:
        value = headers.get("Retry-After")
        if isinstance(value, str) and (seconds := parse_retry_after(value)) is not None:
            return seconds
    body: Any = exc.details
    error = body.get("error", body) if isinstance(body, dict) else {}
    for detail in error.get("details", []) if isinstance(error, dict) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("rpc.RetryInfo"):
            seconds = parse_duration(str(detail.get("retryDelay", "")))
            if seconds is not None:
                return seconds
    return None


def _name(value: object) -> str:
    return str(getattr(value, "value", value))
