"""The offline responder: what a machine without a Gemini key answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest
from parley.bridge.replies.config import GeminiSettings, from_env
from parley.bridge.replies.factory import build_reply_model
from parley.bridge.replies.offline import OFFLINE_MODEL, OfflineReplyModel
from parley.domain.profiles import PersonaProfile, Relationship
from testkit.contexts import make_context


async def test_the_same_context_always_gets_the_same_words() -> None:
    context = make_context(inbound_text="hello?")

    first = await OfflineReplyModel().generate(context)
    second = await OfflineReplyModel().generate(context)

    assert first.text == second.text


@pytest.mark.parametrize("relationship", list(Relationship))
async def test_it_says_plainly_that_the_assistant_is_offline(relationship: Relationship) -> None:
    reply = await OfflineReplyModel().generate(make_context(relationship=relationship))

    assert "offline" in reply.text
    assert reply.model == OFFLINE_MODEL
    assert not reply.is_fallback


async def test_each_relationship_gets_its_own_tone() -> None:
    model = OfflineReplyModel()
    texts = {
        relationship: (await model.generate(make_context(relationship=relationship))).text
        for relationship in Relationship
    }

    assert len(set(texts.values())) == len(Relationship)
    assert texts[Relationship.FAMILY].startswith("Hi Ana!")
    assert texts[Relationship.FRIEND].startswith("Hey Ana!")
    assert texts[Relationship.CLIENT].startswith("Thank you for your message.")
    assert "Ana" not in texts[Relationship.CLIENT]  # formal: no first-name greeting


async def test_it_answers_in_the_contacts_language() -> None:
    model = OfflineReplyModel()

    spanish = await model.generate(make_context(language="es-AR", relationship=Relationship.CLIENT))
    portuguese = await model.generate(make_context(language="pt-BR"))

    assert "fuera de línea" in spanish.text
    assert "Gracias por su mensaje" in spanish.text
    assert "offline" in portuguese.text
    assert portuguese.text.startswith("Oi Ana!")


async def test_it_uses_the_persona_name_and_a_clean_contact_name() -> None:
    context = make_context(
        relationship=Relationship.FAMILY,
        preferred_name="Mum\n\u202e" + "a" * 100,
        persona=PersonaProfile(name="Lia"),
    )

    reply = await OfflineReplyModel().generate(context)

    assert "This is Lia" in reply.text
    assert "\n" not in reply.text
    assert "\u202e" not in reply.text
    assert "a" * 41 not in reply.text


async def test_it_makes_no_network_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the offline responder tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    model = build_reply_model(from_env({}))

    reply = await model.generate(make_context())
    await model.aclose()

    assert "offline" in reply.text


def test_without_a_key_the_sdk_is_never_loaded() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from parley.bridge.replies.config import from_env
        from parley.bridge.replies.factory import build_reply_model
        model = build_reply_model(from_env({}))
        print(type(model).__name__, "google.genai" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.split() == ["OfflineReplyModel", "False"]


async def test_with_a_key_the_factory_builds_the_gemini_model() -> None:
    model = build_reply_model(GeminiSettings(api_key="k", base_url="http://127.0.0.1:9"))
    try:
        assert model.name == "gemini"
    finally:
        await model.aclose()
