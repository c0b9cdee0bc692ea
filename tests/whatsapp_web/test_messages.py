"""Inbound messages through the real page hook: every field, each id once."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from parley.domain.messages import MessageKind
from testkit.fake_whatsapp import ME, FakeWhatsApp, RecordingSink
from testkit.fake_whatsapp.harness import MakeTransport, linked

pytestmark = pytest.mark.browser

ALICE = "15551230001@c.us"
BOB = "15551230002@c.us"
GROUP = "120363000000000001@g.us"


async def test_messages_in_several_chats_arrive_once_with_their_details(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)

    hello = await fake.deliver(ALICE, "Hi! Are you open on Sunday? 🙂", push_name="Alice")
    in_group = await fake.deliver(
        GROUP,
        "@15550000001 can you check?",
        sender=BOB,
        push_name="Bob",
        mentionedJidList=[ME],
    )
    reply = await fake.deliver(ALICE, "(ignore my last one)", quoted=hello, push_name="Alice")
    photo_bytes = b"the photo's bytes"
    photo = await fake.deliver(
        BOB,
        "our new shop front",
        type="image",
        mimetype="image/jpeg",
        size=48_213,
        filehash=fake.file_hash(photo_bytes),
        width=1280,
        height=960,
    )
    mine = await fake.deliver(ALICE, "typed on the phone", from_me=True)
    where = await fake.deliver(BOB, "", type="location", lat=51.5, lng=-0.12, loc="The shop")
    await sink.wait_for("six messages", lambda: len(sink.messages) == 6)

    by_id = {message.wa_message_id: message for message in sink.messages}
    assert list(by_id) == [hello, in_group, reply, photo, mine, where]

    first = by_id[hello]
    assert first.account == "test"
    assert (first.chat_id, first.sender, first.push_name) == (ALICE, "15551230001", "Alice")
    assert first.kind is MessageKind.TEXT
    assert first.text == "Hi! Are you open on Sunday? 🙂"
    assert not (first.is_group)
    assert not (first.from_me)
    assert not (first.mentions_me)
    assert first.sent_at.tzinfo is not None
    assert first.received_at >= first.sent_at

    group = by_id[in_group]
    assert (group.chat_id, group.sender, group.push_name) == (GROUP, "15551230002", "Bob")
    assert group.is_group
    assert group.mentions_me

    assert by_id[reply].quoted_message_id == hello

    image = by_id[photo]
    assert image.kind is MessageKind.IMAGE
    assert image.text == "our new shop front"  # the caption, not the thumbnail in the body
    assert image.media is not None
    assert image.media.mime_type == "image/jpeg"
    assert image.media.size_bytes == 48_213
    assert image.media.sha256 == hashlib.sha256(photo_bytes).hexdigest()
    assert (image.media.width, image.media.height) == (1280, 960)

    own = by_id[mine]
    assert own.from_me
    assert own.sender == "15550000001"

    place = by_id[where]
    assert place.kind is MessageKind.LOCATION
    assert place.extra["lat"] == "51.5"
    assert place.extra["place"] == "The shop"


async def test_a_ciphertext_message_is_handed_on_once_when_it_becomes_readable(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)

    secret = await fake.deliver(ALICE, "decrypted at last", ciphertext=True)
    after = await fake.deliver(ALICE, "sent after it, readable at once")
    await sink.wait_for("the readable message", lambda: len(sink.messages) == 1)
    assert sink.messages[0].wa_message_id == after  # nothing for the ciphertext yet

    await fake.decrypt(secret)
    await sink.wait_for("the decrypted message", lambda: len(sink.messages) == 2)
    assert sink.messages[1].wa_message_id == secret
    assert sink.messages[1].text == "decrypted at last"

    # A later message proves the events behind it were all handled: still one each.
    await fake.deliver(BOB, "marker")
    await sink.wait_for("the marker", lambda: len(sink.messages) == 3)
    ids = [message.wa_message_id for message in sink.messages]
    assert len(ids) == len(set(ids))


async def test_history_from_before_the_account_was_linked_is_not_handed_on(
    fake: FakeWhatsApp, make_transport: MakeTransport
) -> None:
    await fake.deliver(ALICE, "an old message", t=1_700_000_000)
    await fake.deliver(BOB, "another old one")
    transport = make_transport()
    sink = RecordingSink()
    await linked(fake, transport, sink)
    await asyncio.sleep(0.3)  # room for a wrong catch-up to show itself

    new = await fake.deliver(ALICE, "a new message")
    await sink.wait_for("the new message", lambda: len(sink.messages) >= 1)
    assert [message.wa_message_id for message in sink.messages] == [new]
