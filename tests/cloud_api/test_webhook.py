"""The webhook, running on a real socket, fed Meta-shaped notifications."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
from eventsourcing.persistence import OperationalError
from parley.bridge.cloud_api import CloudApiTransport, create_webhook_app
from parley.bridge.cloud_api.signature import sign
from parley.domain.messages import DeliveryStatus, InboundMessage, MessageKind
from testkit import meta_webhooks as meta
from testkit.cloud_rig import APP_SECRET, VERIFY_TOKEN, CloudRig
from testkit.local_http import serve
from testkit.recording_sink import RecordingSink

ALICE = "447700900123"
BOB = "15551230000"
T0 = 1_793_611_800  # 2026-11-02 09:30:00 UTC


async def test_verification_handshake_echoes_the_challenge(rig: CloudRig) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    async with rig.http.get(rig.webhook_url, params=query) as response:
        assert response.status == 200
        assert await response.text() == "1158201444"


async def test_verification_with_a_wrong_token_or_missing_fields_is_refused(rig: CloudRig) -> None:
    wrong = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"}
    async with rig.http.get(rig.webhook_url, params=wrong) as response:
        assert response.status == 403
    async with rig.http.get(rig.webhook_url, params={"hub.mode": "subscribe"}) as response:
        assert response.status == 400


async def test_signed_text_message_reaches_the_sink_as_it_was_written(rig: CloudRig) -> None:
    body = "Hi! Is the shop open on Sunday?  😊\n<b>thanks</b>"
    document = meta.notification(
        meta.messages_change(
            meta.text(ALICE, "wamid.A1", body, T0), contacts=((ALICE, "Alice Example"),)
        )
    )

    status, answer = await rig.post(document)

    assert (status, answer["accepted"]) == (200, 1)
    [message] = rig.sink.messages
    assert message.account == "acme"
    assert message.wa_message_id == "wamid.A1"
    assert message.chat_id == f"{ALICE}@c.us"
    assert message.sender == ALICE
    assert message.push_name == "Alice Example"
    assert message.kind is MessageKind.TEXT
    assert message.text == body
    assert message.sent_at == datetime.fromtimestamp(T0, UTC)
    assert message.received_at == rig.clock.now
    assert rig.transport.last_inbound_at(f"{ALICE}@c.us") == datetime.fromtimestamp(T0, UTC)


async def test_image_keeps_its_caption_and_media_metadata(rig: CloudRig) -> None:
    document = meta.notification(
        meta.messages_change(meta.image(ALICE, "wamid.IMG", "Our new sign", T0))
    )

    status, _ = await rig.post(document)

    assert status == 200
    [message] = rig.sink.messages
    assert message.kind is MessageKind.IMAGE
    assert message.text == "Our new sign"
    assert message.media is not None
    assert message.media.mime_type == "image/jpeg"
    assert message.media.sha256 == "HgsyZ6RxKzVNrBfpXwVwqdnOzBGKFN7DwgNMr8d5aP0="
    assert message.extra["media_id"] == "1093219345238839"


async def test_reaction_names_the_message_it_reacts_to(rig: CloudRig) -> None:
    document = meta.notification(
        meta.messages_change(meta.reaction(ALICE, "wamid.R1", "wamid.OUT7", "👍", T0))
    )

    status, _ = await rig.post(document)

    assert status == 200
    [message] = rig.sink.messages
    assert message.kind is MessageKind.REACTION
    assert message.quoted_message_id == "wamid.OUT7"
    assert message.extra["emoji"] == "👍"


async def test_status_updates_become_delivery_updates(rig: CloudRig) -> None:
    failure = {
        "code": 131026,
        "title": "Message undeliverable",
        "error_data": {"details": "Receiver is incapable of receiving this message"},
    }
    document = meta.notification(
        meta.statuses_change(
            meta.status("wamid.OUT1", "delivered", ALICE, T0 + 5),
            meta.status("wamid.OUT2", "failed", BOB, T0 + 6, errors=[failure]),
        )
    )

    status, answer = await rig.post(document)

    assert (status, answer["statuses"]) == (200, 2)
    delivered, failed = rig.sink.deliveries
    assert (delivered.wa_message_id, delivered.status) == ("wamid.OUT1", DeliveryStatus.DELIVERED)
    assert delivered.chat_id == f"{ALICE}@c.us"
    assert delivered.at == datetime.fromtimestamp(T0 + 5, UTC)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.error == (
        "131026 Message undeliverable Receiver is incapable of receiving this message"
    )


async def test_one_post_with_several_entries_and_changes_delivers_every_item(
    rig: CloudRig,
) -> None:
    document = meta.notification(
        meta.messages_change(
            meta.text(ALICE, "wamid.M1", "first", T0),
            meta.text(BOB, "wamid.M2", "hello from Bob", T0 + 1),
            contacts=((ALICE, "Alice"), (BOB, "Bob")),
        ),
        meta.statuses_change(meta.status("wamid.OUT1", "read", ALICE, T0 + 2)),
        meta.messages_change(meta.text(ALICE, "wamid.M3", "second", T0 + 3)),
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
        entries=2,
    )
    assert len(document["entry"]) == 2

    status, answer = await rig.post(document)

    assert status == 200
    assert answer == {"accepted": 4, "messages": 3, "statuses": 1, "skipped": 1}
    assert [m.wa_message_id for m in rig.sink.messages] == ["wamid.M1", "wamid.M2", "wamid.M3"]
    assert [m.push_name for m in rig.sink.messages] == ["Alice", "Bob", ""]
    assert [d.status for d in rig.sink.deliveries] == [DeliveryStatus.READ]
    # The window follows the newest message from each chat.
    assert rig.transport.last_inbound_at(f"{ALICE}@c.us") == datetime.fromtimestamp(T0 + 3, UTC)
    assert rig.transport.last_inbound_at(f"{BOB}@c.us") == datetime.fromtimestamp(T0 + 1, UTC)


async def test_unsigned_or_wrongly_signed_posts_are_refused_and_deliver_nothing(
    rig: CloudRig,
) -> None:
    document = meta.notification(meta.messages_change(meta.text(ALICE, "wamid.X", "hi", T0)))
    body = orjson.dumps(document)
    tampered = body.replace(b'"hi"', b'"send me the admin password"')
    assert (await rig.post(body, signature=""))[0] == 401
    assert (await rig.post(body, signature="sha1=abc"))[0] == 401
    assert (await rig.post(body, secret="not-the-app-secret"))[0] == 403
    assert (await rig.post(tampered, signature=sign(APP_SECRET, body)))[0] == 403
    assert rig.sink.messages == []
    assert rig.transport.last_inbound_at(f"{ALICE}@c.us") is None


async def test_bad_payloads_get_a_clear_400(rig: CloudRig) -> None:
    status, answer = await rig.post(b"{not json")
    assert (status, answer["error"]) == (400, "body is not JSON")
    status, answer = await rig.post({"object": "page", "entry": []})
    assert (status, answer["error"]) == (400, "'object' must be 'whatsapp_business_account'")
    assert rig.sink.messages == []


async def test_a_lone_surrogate_escape_is_accepted_not_refused_as_bad_json(rig: CloudRig) -> None:
    # Valid JSON that orjson refuses; refusing it would make Meta retry it forever.
    document = meta.notification(
        meta.messages_change(
            meta.text(ALICE, "wamid.HALF", "half an emoji: \ud83d!", T0),
            contacts=((ALICE, "Al\udc00ice"),),
        )
    )
    body = json.dumps(document).encode()
    assert b"\\ud83d" in body

    status, answer = await rig.post(body)

    assert (status, answer["accepted"]) == (200, 1)
    [message] = rig.sink.messages
    assert message.text == "half an emoji: \ud83d!"  # the intake replaces it before storing
    assert message.push_name == "Al\udc00ice"


async def test_a_body_that_is_not_utf8_is_refused_as_bad_json(rig: CloudRig) -> None:
    status, answer = await rig.post(b'{"object": "whatsapp_business_account", "x": "\xff"}')
    assert (status, answer["error"]) == (400, "body is not JSON")
    assert rig.sink.messages == []


async def test_a_malformed_item_is_reported_and_its_neighbours_are_kept(rig: CloudRig) -> None:
    broken = meta.text(ALICE, "wamid.BAD", "no id", T0)
    del broken["id"]
    document = meta.notification(
        meta.messages_change(
            meta.text(ALICE, "wamid.OK1", "one", T0),
            broken,
            meta.text(ALICE, "wamid.OK2", "two", T0 + 1),
        )
    )

    status, answer = await rig.post(document)

    assert status == 400
    assert answer["problems"] == [
        "entry[0].changes[0].value.messages[1]: 'id' must be a non-empty string"
    ]
    assert answer["accepted"] == 2
    assert [m.wa_message_id for m in rig.sink.messages] == ["wamid.OK1", "wamid.OK2"]


async def test_changes_for_another_phone_number_are_skipped(rig: CloudRig) -> None:
    document = meta.notification(
        meta.messages_change(meta.text(ALICE, "wamid.O", "hi", T0), phone_number_id="999")
    )

    status, answer = await rig.post(document)

    assert (status, answer["skipped"], answer["accepted"]) == (200, 1, 0)
    assert rig.sink.messages == []


async def test_a_post_before_the_transport_starts_is_answered_503(rig: CloudRig) -> None:
    idle = CloudApiTransport(rig.transport.config, rig.db, account="acme", clock=rig.clock)
    document = meta.notification(meta.messages_change(meta.text(ALICE, "wamid.E", "hi", T0)))
    body = orjson.dumps(document)
    async with serve(create_webhook_app(idle)) as base:
        url = base + idle.config.webhook_path
        headers = {"X-Hub-Signature-256": sign(APP_SECRET, body)}
        async with rig.http.post(url, data=body, headers=headers) as response:
            assert response.status == 503


class DatabaseAwaySink(RecordingSink):
    async def on_message(self, message: InboundMessage) -> None:
        raise OperationalError("the database is restarting")


async def test_a_post_while_the_database_is_away_is_answered_503_for_meta_to_retry(
    rig: CloudRig,
) -> None:
    away = CloudApiTransport(rig.transport.config, rig.db, account="acme", clock=rig.clock)
    await away.start(DatabaseAwaySink())
    document = meta.notification(meta.messages_change(meta.text(ALICE, "wamid.D", "hi", T0)))
    body = orjson.dumps(document)
    try:
        async with serve(create_webhook_app(away)) as base:
            url = base + away.config.webhook_path
            headers = {"X-Hub-Signature-256": sign(APP_SECRET, body)}
            async with rig.http.post(url, data=body, headers=headers) as response:
                assert response.status == 503
                assert (await response.json())["error"] == "database unavailable; retry later"
    finally:
        await away.stop()
