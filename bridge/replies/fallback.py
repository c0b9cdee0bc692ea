"""Replies Parley writes itself: the fallback when the model gives no usable answer,
and the offline notice when no model is configured. Both fit the relationship and
the contact's language (English, Spanish or Portuguese; English otherwise), and
both are deterministic.

A fallback is recorded with a reason of the form "<code>: <detail>", where the code
is a `FallbackCode`, so analytics can count reasons and an audit can read them.
"""

from __future__ import annotations

from enum import StrEnum

from parley.bridge.ports import ReplyContext
from parley.bridge.replies.text import clean
from parley.domain.profiles import Relationship

FALLBACK_MODEL = "parley-fallback"


class FallbackCode(StrEnum):
    TIMEOUT = "timeout"  # no answer within the call's timeout
    RATE_LIMITED = "rate_limited"  # 429 until retries or the deadline ran out
    SERVER_ERROR = "server_error"  # 5xx until retries or the deadline ran out
    UNREACHABLE = "unreachable"  # connection refused, reset, DNS...
    CIRCUIT_OPEN = "circuit_open"  # the breaker refused the call; nothing was sent
    BUSY = "busy"  # no call slot freed up before the deadline
    REJECTED = "rejected"  # another 4xx: the request or the key is wrong
    BLOCKED = "blocked"  # the prompt or the reply was blocked (safety, recitation...)
    NO_CANDIDATES = "no_candidates"  # an answer without candidates
    EMPTY_REPLY = "empty_reply"  # a candidate without text
    MALFORMED = "malformed_response"  # a body that is not the API's JSON
    INTERNAL = "internal_error"  # Parley's own bug; the traceback is in the log


def fallback_reason(code: FallbackCode, detail: str) -> str:
    return f"{code.value}: {detail}" if detail else code.value


def reason_code(reason: str) -> str:
    """The code part of a recorded fallback reason."""
    return reason.split(":", 1)[0]


# {name} is " Ana" (with its space) or "".
_FALLBACK: dict[str, dict[Relationship, str]] = {
    "en": {
        Relationship.FAMILY: (
            "Sorry{name}! I can't reply properly just now, but I've got your message "
            "and will get back to you soon."
        ),
        Relationship.FRIEND: "Hey{name}, can't reply properly right now, but I saw your "
        "message. Back to you soon!",
        Relationship.CLIENT: (
            "Thank you for your message. We are unable to answer it in full at the moment "
            "and will get back to you as soon as possible."
        ),
        Relationship.COLLEAGUE: (
            "Thanks{name}, got your message. I can't give you a proper answer right now; "
            "I'll follow up shortly."
        ),
        Relationship.UNKNOWN: (
            "Thank you for your message. A reply isn't available right now; "
            "you will hear back soon."
        ),
    },
    "es": {
        Relationship.FAMILY: (
            "¡Perdona{name}! Ahora no puedo responderte bien, pero tengo tu mensaje "
            "y te contesto pronto."
        ),
        Relationship.FRIEND: "¡Hola{name}! Ahora no puedo contestarte bien, pero vi tu "
        "mensaje. ¡Te escribo pronto!",
        Relationship.CLIENT: (
            "Gracias por su mensaje. En este momento no podemos responderle por completo; "
            "le contestaremos lo antes posible."
        ),
        Relationship.COLLEAGUE: (
            "Gracias{name}, recibí tu mensaje. Ahora no puedo darte una respuesta completa; "
            "te escribo en breve."
        ),
        Relationship.UNKNOWN: (
            "Gracias por su mensaje. Ahora mismo no hay respuesta disponible; "
            "le contestaremos pronto."
        ),
    },
    "pt": {
        Relationship.FAMILY: (
            "Desculpa{name}! Agora não consigo responder direito, mas recebi sua mensagem "
            "e respondo logo."
        ),
        Relationship.FRIEND: "Oi{name}! Agora não dá para responder direito, mas vi sua "
        "mensagem. Já te respondo!",
        Relationship.CLIENT: (
            "Obrigado pela sua mensagem. No momento não conseguimos responder por completo; "
            "retornaremos o mais breve possível."
        ),
        Relationship.COLLEAGUE: (
            "Obrigado{name}, recebi sua mensagem. Agora não consigo dar uma resposta "
            "completa; retorno em breve."
        ),
        Relationship.UNKNOWN: (
            "Obrigado pela sua mensagem. No momento não há resposta disponível; "
            "retornaremos em breve."
        ),
    },
}

# {assistant} is the persona's name.
_OFFLINE: dict[str, dict[Relationship, str]] = {
    "en": {
        Relationship.FAMILY: (
            "Hi{name}! This is {assistant}, the automatic assistant. I'm offline at the "
            "moment, so I can't answer properly, but your message is saved for later."
        ),
        Relationship.FRIEND: (
            "Hey{name}! {assistant} here, the auto-reply assistant: I'm offline right now, "
            "so no proper answer from me, but your message is saved."
        ),
        Relationship.CLIENT: (
            "Thank you for your message. This is {assistant}, the automatic assistant, "
            "which is currently offline. Your message has been received and saved; "
            "you will receive a reply as soon as possible."
        ),
        Relationship.COLLEAGUE: (
            "Hi{name}, this is {assistant}, the automatic assistant. It is offline at the "
            "moment; your message is saved and will be picked up."
        ),
        Relationship.UNKNOWN: (
            "Hello. This is {assistant}, an automatic assistant, and it is offline at the "
            "moment. Your message has been received and saved."
        ),
    },
    "es": {
        Relationship.FAMILY: (
            "¡Hola{name}! Soy {assistant}, el asistente automático. Ahora estoy fuera de "
            "línea y no puedo responderte bien, pero tu mensaje queda guardado."
        ),
        Relationship.FRIEND: (
            "¡Hola{name}! Aquí {assistant}, el asistente automático: estoy fuera de línea "
            "ahora mismo, pero tu mensaje queda guardado."
        ),
        Relationship.CLIENT: (
            "Gracias por su mensaje. Le atiende {assistant}, el asistente automático, que "
            "está fuera de línea en este momento. Su mensaje ha sido recibido y guardado; "
            "le responderemos lo antes posible."
        ),
        Relationship.COLLEAGUE: (
            "Hola{name}, soy {assistant}, el asistente automático. Ahora está fuera de "
            "línea; tu mensaje queda guardado."
        ),
        Relationship.UNKNOWN: (
            "Hola. Soy {assistant}, un asistente automático, y estoy fuera de línea en "
            "este momento. Su mensaje ha sido recibido y guardado."
        ),
    },
    "pt": {
        Relationship.FAMILY: (
            "Oi{name}! Aqui é {assistant}, o assistente automático. Estou offline agora e "
            "não consigo responder direito, mas sua mensagem ficou guardada."
        ),
        Relationship.FRIEND: (
            "Oi{name}! Aqui é {assistant}, o assistente automático: estou offline agora, "
            "mas sua mensagem ficou guardada."
        ),
        Relationship.CLIENT: (
            "Obrigado pela sua mensagem. Aqui é {assistant}, o assistente automático, que "
            "está offline no momento. Sua mensagem foi recebida e guardada; "
            "retornaremos o mais breve possível."
        ),
        Relationship.COLLEAGUE: (
            "Oi{name}, aqui é {assistant}, o assistente automático. Ele está offline no "
            "momento; sua mensagem ficou guardada."
        ),
        Relationship.UNKNOWN: (
            "Olá. Aqui é {assistant}, um assistente automático, e ele está offline no "
            "momento. Sua mensagem foi recebida e guardada."
        ),
    },
}


def fallback_text(context: ReplyContext) -> str:
    return _render(_FALLBACK, context)


def offline_text(context: ReplyContext) -> str:
    return _render(_OFFLINE, context)


def _render(table: dict[str, dict[Relationship, str]], context: ReplyContext) -> str:
    language = context.language.split("-", maxsplit=1)[0].lower()
    texts = table.get(language, table["en"])
    template = texts.get(context.relationship, texts[Relationship.UNKNOWN])
    name = _display_name(context.preferred_name or context.contact_name)
    assistant = _display_name(context.persona.name) or "Parley"
    return template.format(name=f" {name}" if name else "", assistant=assistant)


def _display_name(raw: str) -> str:
    """A name fit to print in a greeting: one line, visible characters, short."""
    return clean(raw, 40)
