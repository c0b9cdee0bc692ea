"""Every inbound message type Meta documents, read into InboundMessage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from parley.bridge.cloud_api.payloads import PayloadError, parse_notification
from parley.domain.messages import InboundMessage, MessageKind
from testkit import meta_webhooks as meta

ALICE = "447700900123"
T0 = 1_793_611_800
NOW = datetime(2026, 11, 2, 9, 31, tzinfo=UTC)


def read_one(message: dict[str, Any]) -> InboundMessage:
    batch = parse_notification(
        meta.notification(meta.messages_change(message, contacts=((ALICE, "Alice"),))),
        account="acme",
        phone_number_id=meta.PHONE_NUMBER_ID,
        received_at=NOW,
    )
    assert batch.problems == []
    [found] = batch.messages
    return found


def base(kind: str, **content: Any) -> dict[str, Any]:
    return {"from": ALICE, "id": "wamid.X", "timestamp": str(T0), "type": kind, **content}


def test_location_carries_coordinates_and_place() -> None:
    found = read_one(
        base(
            "location",
            location={
                "latitude": 51.5007,
                "longitude": -0.1246,
                "name": "Big Ben",
                "address": "London SW1A 0AA",
            },
        )
    )
    assert found.kind is MessageKind.LOCATION
    assert found.extra == {
        "latitude": "51.5007",
        "longitude": "-0.1246",
        "location_name": "Big Ben",
        "address": "London SW1A 0AA",
    }


def test_contact_card_carries_the_first_name_and_number() -> None:
    card = {
        "name": {"formatted_name": "Barbara Johnson", "first_name": "Barbara"},
        "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME", "wa_id": "19405551234"}],
    }
    found = read_one(base("contacts", contacts=[card, {"name": {"formatted_name": "Other"}}]))
    assert found.kind is MessageKind.CONTACT_CARD
    assert found.extra == {
        "vcard_count": "2",
        "vcard_name": "Barbara Johnson",
        "vcard_phone": "+1 (940) 555-1234",
    }


@pytest.mark.parametrize(
    ("kind", "content", "expected_kind", "extra"),
    [
        (
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "m1", "voice": True},
            MessageKind.AUDIO,
            {"media_id": "m1", "voice": "true"},
        ),
        (
            "video",
            {"mime_type": "video/mp4", "sha256": "abc", "id": "m2", "caption": "look"},
            MessageKind.VIDEO,
            {"media_id": "m2"},
        ),
        (
            "document",
            {"mime_type": "application/pdf", "sha256": "abc", "id": "m3", "filename": "q.pdf"},
            MessageKind.DOCUMENT,
            {"media_id": "m3"},
        ),
        (
            "sticker",
            {"mime_type": "image/webp", "sha256": "abc", "id": "m4", "animated": False},
            MessageKind.STICKER,
            {"media_id": "m4"},
        ),
    ],
)
def test_media_messages_keep_their_metadata(
    kind: str, content: dict[str, Any], expected_kind: MessageKind, extra: dict[str, str]
) -> None:
    found = read_one(base(kind, **{kind: content}))
    assert found.kind is expected_kind
    assert found.extra == extra
    assert found.media is not None
    assert found.media.mime_type == content["mime_type"]
    assert found.media.file_name == content.get("filename", "")
    assert found.text == content.get("caption", "")


def test_button_and_list_replies_read_as_the_words_chosen() -> None:
    button = read_one(
        base(
            "interactive",
            interactive={"type": "button_reply", "button_reply": {"id": "yes-1", "title": "Yes"}},
        )
    )
    listed = read_one(
        base(
            "interactive",
            interactive={
                "type": "list_reply",
                "list_reply": {"id": "slot-3", "title": "Tuesday 10:00", "description": "1 h"},
            },
        )
    )
    template = read_one(base("button", button={"text": "Stop promotions", "payload": "STOP"}))
    assert (button.kind, button.text, button.extra["reply_id"]) == (
        MessageKind.TEXT,
        "Yes",
        "yes-1",
    )
    assert (listed.text, listed.extra["reply_description"]) == ("Tuesday 10:00", "1 h")
    assert (template.text, template.extra["button_payload"]) == ("Stop promotions", "STOP")


def test_unsupported_message_is_kept_as_other_with_metas_reason() -> None:
    found = read_one(
        base(
            "unsupported",
            errors=[
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."},
                }
            ],
        )
    )
    assert found.kind is MessageKind.OTHER
    assert found.extra == {
        "type": "unsupported",
        "error": "131051 Message type unknown Message type is currently not supported.",
    }


def test_a_quoted_reply_names_the_quoted_message_and_forwarding_is_kept() -> None:
    found = read_one(
        base(
            "text",
            text={"body": "yes, that one"},
            context={"from": "15550783881", "id": "wamid.OUT5", "forwarded": True},
        )
    )
    assert found.quoted_message_id == "wamid.OUT5"
    assert found.extra == {"forwarded": "true"}


def test_a_removed_reaction_has_an_empty_emoji() -> None:
    found = read_one(base("reaction", reaction={"message_id": "wamid.OUT5"}))
    assert (found.kind, found.extra["emoji"]) == (MessageKind.REACTION, "")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"timestamp": "yesterday"}, "'timestamp' must be Unix seconds"),
        ({"from": "+44 7700"}, "'from' must be the sender's number"),
        ({"type": "image"}, "'image' must be an object"),
        ({"type": "location", "location": {"latitude": 91, "longitude": 0}}, "latitude"),
    ],
)
def test_malformed_messages_are_named_problems(change: dict[str, Any], problem: str) -> None:
    message = {**base("text", text={"body": "hi"}), **change}
    batch = parse_notification(
        meta.notification(meta.messages_change(message)),
        account="acme",
        phone_number_id=meta.PHONE_NUMBER_ID,
        received_at=NOW,
    )
    assert batch.messages == []
    [found] = batch.problems
    assert problem in found


@pytest.mark.parametrize("document", [[], {"object": "whatsapp_business_account"}, "x"])
def test_a_body_that_is_no_notification_is_a_payload_error(document: Any) -> None:
    with pytest.raises(PayloadError):
        parse_notification(document, account="a", phone_number_id="1", received_at=NOW)
