"""The Gemini reply model: the real google-genai client against the local fake server."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

from parley.bridge.replies.config import GeminiSettings
from parley.bridge.replies.fallback import FALLBACK_MODEL, fallback_text, reason_code
from parley.bridge.replies.gemini import GeminiReplyModel
from parley.bridge.replies.resilience import BreakerState
from parley.domain.profiles import Relationship
from parley.tools.fake_gemini import (
    FakeGemini,
    Scripted,
    empty_candidates_body,
    error_body,
    prompt_blocked_body,
    reply_body,
    safety_stopped_body,
)
from testkit.clock import ManualClock, RecordingSleep
from testkit.contexts import make_context, turn
from testkit.gemini import TEST_KEY, ModelFactory

# ------------------------------------------------------------------ answers


async def test_reply_carries_text_usage_model_version_and_finish_reason(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(
        Scripted.reply(
            "Yes, Friday works!",
            prompt_tokens=31,
            response_tokens=5,
            model_version="gemini-2.5-flash-002",
        )
    )
    reply = await make_model().generate(make_context())

    assert reply.text == "Yes, Friday works!"
    assert not reply.is_fallback
    assert reply.fallback_reason == ""
    assert reply.model == "gemini-2.5-flash-002"
    assert (reply.prompt_tokens, reply.response_tokens) == (31, 5)
    assert reply.finish_reason == "STOP"
    assert reply.latency_ms > 0
    [request] = fake.requests
    assert (request.version, request.model, request.method) == (
        "v1beta",
        "gemini-2.5-flash",
        "generateContent",
    )
    assert request.headers["x-goog-api-key"] == TEST_KEY


async def test_configured_model_name_is_recorded_when_the_response_names_none(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    body = reply_body("Hi!")
    del body["modelVersion"]
    fake.enqueue(Scripted.json(body))

    reply = await make_model(model="gemini-2.5-pro").generate(make_context())

    assert reply.model == "gemini-2.5-pro"
    assert fake.requests[0].model == "gemini-2.5-pro"


async def test_thought_parts_are_not_sent_to_the_contact(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    body = reply_body("ignored")
    body["candidates"][0]["content"]["parts"] = [
        {"text": "The user wants to confirm Friday.", "thought": True},
        {"text": "Friday it is!"},
    ]
    fake.enqueue(Scripted.json(body))

    reply = await make_model().generate(make_context())

    assert reply.text == "Friday it is!"


async def test_history_reaches_the_server_as_user_and_model_contents(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    history = (
        turn("user", "Hi!", 1),
        turn("model", "Hello Ana, how can I help?", 2),
        turn("user", "Dinner on Friday?", 3),
        turn("user", "At 8?", 4),
        turn("model", "Friday at 8 sounds lovely.", 5),
    )
    fake.enqueue(Scripted.reply("Great"))

    await make_model().generate(
        make_context(history=history, inbound_text="Same place as last time?")
    )

    assert fake.requests[0].contents == [
        ("user", ["Hi!"]),
        ("model", ["Hello Ana, how can I help?"]),
        ("user", ["Dinner on Friday?", "At 8?"]),
        ("model", ["Friday at 8 sounds lovely."]),
        ("user", ["Same place as last time?"]),
    ]


async def test_history_is_cut_to_the_budget_keeping_the_newest_turns(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    history = tuple(turn("user" if i % 2 == 0 else "model", f"message {i}", i) for i in range(10))
    fake.enqueue(Scripted.reply("ok"))

    await make_model(history_turns=3).generate(make_context(history=history, inbound_text="now"))

    assert fake.requests[0].contents == [
        ("model", ["message 7"]),
        ("user", ["message 8"]),
        ("model", ["message 9"]),
        ("user", ["now"]),
    ]


# ------------------------------------------------------------------ retries


async def test_rate_limited_call_is_retried_after_the_retry_after_wait(
    fake: FakeGemini, make_model: ModelFactory, sleep: RecordingSleep
) -> None:
    fake.enqueue(Scripted.error(429, retry_after="2"), Scripted.reply("Sorted!"))

    reply = await make_model().generate(make_context())

    assert reply.text == "Sorted!"
    assert not reply.is_fallback
    assert len(fake.requests) == 2
    # The backoff alone would be at most 0.04 s; the server asked for 2.
    assert sleep.waits == [2.0]


async def test_retry_delay_in_the_error_body_is_honoured(
    fake: FakeGemini, make_model: ModelFactory, sleep: RecordingSleep
) -> None:
    body = error_body(429)
    body["error"]["details"] = [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}
    ]
    fake.enqueue(Scripted.json(body, status=429), Scripted.reply("ok"))

    reply = await make_model().generate(make_context())

    assert reply.text == "ok"
    assert sleep.waits == [3.0]


async def test_server_errors_are_retried_with_jittered_backoff_then_fall_back(
    fake: FakeGemini, make_model: ModelFactory, sleep: RecordingSleep
) -> None:
    fake.enqueue(*(Scripted.error(500) for _ in range(3)))
    context = make_context(relationship=Relationship.CLIENT)

    reply = await make_model(retries=2, backoff_ms=10, backoff_max_ms=40).generate(context)

    assert reply.is_fallback
    assert reason_code(reply.fallback_reason) == "server_error"
    assert "500 INTERNAL" in reply.fallback_reason
    assert "after 3 attempts" in reply.fallback_reason
    assert reply.text == fallback_text(context)
    assert reply.model == FALLBACK_MODEL
    assert len(fake.requests) == 3
    first, second = sleep.waits
    assert 0.005 <= first <= 0.010  # half of 10 ms fixed, half random
    assert 0.010 <= second <= 0.020  # doubled


async def test_retry_after_beyond_the_deadline_falls_back_without_waiting(
    fake: FakeGemini, make_model: ModelFactory, sleep: RecordingSleep
) -> None:
    fake.enqueue(Scripted.error(429, retry_after="120"))

    reply = await make_model(deadline_ms=5_000).generate(make_context())

    assert reason_code(reply.fallback_reason) == "rate_limited"
    assert "no time left" in reply.fallback_reason
    assert sleep.waits == []
    assert len(fake.requests) == 1


async def test_client_error_is_not_retried_and_leaves_the_breaker_closed(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    model = make_model(breaker_failures=2)
    fake.enqueue(*(Scripted.error(400, message="API key not valid") for _ in range(3)))

    replies = [await model.generate(make_context()) for _ in range(3)]

    assert [reason_code(reply.fallback_reason) for reply in replies] == ["rejected"] * 3
    assert "API key not valid" in replies[0].fallback_reason
    assert len(fake.requests) == 3
    assert model.breaker.state is BreakerState.CLOSED


async def test_without_retries_a_server_error_costs_one_request(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.error(503), Scripted.reply("too late"))

    reply = await make_model(retries=0).generate(make_context())

    assert reason_code(reply.fallback_reason) == "server_error"
    assert len(fake.requests) == 1


async def test_the_sdk_does_not_retry_dropped_connections_behind_our_back(
    make_model: ModelFactory,
) -> None:
    # Left alone, the SDK reconnects once after a 1-10 s sleep when a connection
    # drops; that retry would escape our backoff, deadline and breaker.
    connections = 0

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reply = await make_model(base_url=f"http://127.0.0.1:{port}", retries=0).generate(
            make_context()
        )
    finally:
        server.close()
        await server.wait_closed()

    assert reason_code(reply.fallback_reason) == "unreachable"
    assert connections == 1


async def test_unreachable_server_falls_back_with_the_reason(make_model: ModelFactory) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    reply = await make_model(base_url=f"http://127.0.0.1:{port}", retries=0).generate(
        make_context()
    )

    assert reply.is_fallback
    assert reason_code(reply.fallback_reason) == "unreachable"


# ------------------------------------------------------------------ timeouts


async def test_unanswered_call_times_out_into_a_fallback(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.never_answer())

    reply = await make_model(retries=0, timeout_ms=300).generate(make_context())

    assert reply.is_fallback
    assert reason_code(reply.fallback_reason) == "timeout"
    assert "0.3 s" in reply.fallback_reason
    assert len(fake.requests) == 1


async def test_timed_out_call_is_retried(
    fake: FakeGemini, make_model: ModelFactory, sleep: RecordingSleep
) -> None:
    fake.enqueue(Scripted.never_answer(), Scripted.reply("Here now"))

    reply = await make_model(retries=1, timeout_ms=300).generate(make_context())

    assert reply.text == "Here now"
    assert len(fake.requests) == 2
    assert len(sleep.waits) == 1


# ------------------------------------------------------------ circuit breaker


async def test_breaker_opens_after_repeated_failures_and_sends_nothing_while_open(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    model = make_model(retries=0, breaker_failures=3)
    fake.enqueue(*(Scripted.error(500) for _ in range(3)))

    failed = [await model.generate(make_context()) for _ in range(3)]
    refused = await model.generate(make_context())

    assert [reason_code(reply.fallback_reason) for reply in failed] == ["server_error"] * 3
    assert model.breaker.state is BreakerState.OPEN
    assert refused.is_fallback
    assert reason_code(refused.fallback_reason) == "circuit_open"
    assert len(fake.requests) == 3  # the refused reply sent nothing


async def test_half_open_probe_that_succeeds_closes_the_breaker(
    fake: FakeGemini, make_model: ModelFactory, clock: ManualClock
) -> None:
    model = make_model(retries=0, breaker_failures=2, breaker_open_ms=30_000)
    fake.enqueue(Scripted.error(503), Scripted.error(503))
    for _ in range(2):
        await model.generate(make_context())
    assert model.breaker.state is BreakerState.OPEN

    clock.advance(29.9)
    still_open = await model.generate(make_context())
    clock.advance(0.1)
    assert model.breaker.state is BreakerState.HALF_OPEN
    fake.enqueue(Scripted.reply("I'm back"), Scripted.reply("And again"))
    probe = await model.generate(make_context())
    after = await model.generate(make_context())

    assert reason_code(still_open.fallback_reason) == "circuit_open"
    assert probe.text == "I'm back"
    assert after.text == "And again"
    assert model.breaker.state is BreakerState.CLOSED
    assert len(fake.requests) == 4


async def test_half_open_probe_that_fails_opens_the_breaker_again(
    fake: FakeGemini, make_model: ModelFactory, clock: ManualClock
) -> None:
    model = make_model(retries=0, breaker_failures=1, breaker_open_ms=10_000)
    fake.enqueue(Scripted.error(500), Scripted.error(500))
    await model.generate(make_context())
    clock.advance(10)

    probe = await model.generate(make_context())
    refused = await model.generate(make_context())

    assert reason_code(probe.fallback_reason) == "server_error"
    assert reason_code(refused.fallback_reason) == "circuit_open"
    assert model.breaker.state is BreakerState.OPEN
    assert len(fake.requests) == 2


async def test_breaker_opening_during_retries_stops_them(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    model = make_model(retries=5, breaker_failures=2)
    fake.enqueue(*(Scripted.error(503) for _ in range(6)))

    reply = await model.generate(make_context())

    assert reason_code(reply.fallback_reason) == "circuit_open"
    assert "after server_error" in reply.fallback_reason
    assert len(fake.requests) == 2


async def test_models_built_for_one_endpoint_share_one_breaker(
    fake: FakeGemini, settings: GeminiSettings
) -> None:
    isolated = replace(settings, retries=0, breaker_failures=2, model="gemini-shared-test")
    first, second = GeminiReplyModel(isolated), GeminiReplyModel(isolated)
    other_model = GeminiReplyModel(replace(isolated, model="gemini-other-test"))
    fake.enqueue(Scripted.error(500), Scripted.error(500), Scripted.reply("fine"))
    try:
        await first.generate(make_context())
        await first.generate(make_context())
        refused = await second.generate(make_context())
        unaffected = await other_model.generate(make_context())
    finally:
        for model in (first, second, other_model):
            await model.aclose()

    assert first.breaker is second.breaker
    assert reason_code(refused.fallback_reason) == "circuit_open"
    assert unaffected.text == "fine"
    assert len(fake.requests) == 3


# ---------------------------------------------------------- unusable answers


async def test_blocked_prompt_is_a_recorded_fallback(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.json(prompt_blocked_body("SAFETY")))
    context = make_context(relationship=Relationship.FAMILY)

    reply = await make_model().generate(context)

    assert reply.is_fallback
    assert reason_code(reply.fallback_reason) == "blocked"
    assert "prompt blocked (SAFETY)" in reply.fallback_reason
    assert reply.finish_reason == "SAFETY"
    assert reply.prompt_tokens == 9
    assert reply.text == fallback_text(context)
    assert len(fake.requests) == 1  # a block is an answer: not retried


async def test_reply_stopped_for_safety_is_a_recorded_fallback(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.json(safety_stopped_body()))

    reply = await make_model().generate(make_context())

    assert reply.is_fallback
    assert reason_code(reply.fallback_reason) == "blocked"
    assert "reply stopped (SAFETY)" in reply.fallback_reason
    assert reply.finish_reason == "SAFETY"
    assert reply.prompt_tokens == 15


async def test_partial_text_of_a_withheld_reply_is_not_sent(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.reply("Here is the first verse of", finish_reason="RECITATION"))

    reply = await make_model().generate(make_context())

    assert reply.is_fallback
    assert "Here is the first verse" not in reply.text
    assert reply.finish_reason == "RECITATION"


async def test_malformed_json_is_a_recorded_fallback(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.raw('{"candidates": [ {"content": '))

    reply = await make_model().generate(make_context())

    assert reply.is_fallback
    assert reason_code(reply.fallback_reason) == "malformed_response"
    assert len(fake.requests) == 1


async def test_json_without_any_field_of_the_api_is_malformed(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.raw('["not", "a", "response"]'))

    reply = await make_model().generate(make_context())

    assert reason_code(reply.fallback_reason) == "malformed_response"


async def test_empty_candidate_list_is_a_recorded_fallback(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.enqueue(Scripted.json(empty_candidates_body()))

    reply = await make_model().generate(make_context())

    assert reply.is_fallback
    assert reason_code(reply.fallback_reason) == "no_candidates"
    assert reply.prompt_tokens == 9


async def test_candidate_without_text_is_an_empty_reply_fallback(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    body = reply_body("")
    body["candidates"][0] = {"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}
    fake.enqueue(Scripted.json(body))

    reply = await make_model().generate(make_context())

    assert reason_code(reply.fallback_reason) == "empty_reply"
    assert "MAX_TOKENS" in reply.fallback_reason
    assert reply.finish_reason == "MAX_TOKENS"


# ---------------------------------------------------------------- concurrency


async def test_calls_in_flight_never_exceed_the_concurrency_limit(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    fake.latency_s = 0.25  # long enough for the first two calls to overlap
    model = make_model(max_concurrency=2)

    replies = await asyncio.gather(
        *(model.generate(make_context(inbound_text=f"message {i}")) for i in range(6))
    )

    assert not any(reply.is_fallback for reply in replies)
    assert len(fake.requests) == 6
    assert fake.max_in_flight == 2


async def test_no_slot_before_the_deadline_is_a_busy_fallback(
    fake: FakeGemini, make_model: ModelFactory
) -> None:
    model = make_model(max_concurrency=1, timeout_ms=300, deadline_ms=300)

    async with model.limit.slot(wait_s=1):  # every slot taken, as by a stuck call
        reply = await model.generate(make_context())

    assert reason_code(reply.fallback_reason) == "busy"
    assert fake.requests == []
    assert model.breaker.state is BreakerState.CLOSED  # our capacity, not the service's
