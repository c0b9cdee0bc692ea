"""The transport's pure parts: mapping, states, ledger, settings, contract, QR code."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from parley.bridge.ports import TransportState
from parley.bridge.whatsapp_web import config, contract, qr
from parley.bridge.whatsapp_web.ledger import Ledger
from parley.bridge.whatsapp_web.mapping import (
    BadPayload,
    delivery_update,
    digits_of,
    inbound_message,
)
from parley.bridge.whatsapp_web.states import read_state
from parley.domain.messages import DeliveryStatus, MessageKind
from parley.tools.config import ConfigError
from PIL import Image

NOW = datetime(2025, 5, 4, 12, 0, tzinfo=UTC)


def page_message(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "false_15551230001@c.us_3EB0AA",
        "chat": "15551230001@c.us",
        "fromMe": False,
        "sender": "15551230001@c.us",
        "pushName": "Alice",
        "t": 1_746_356_400,
        "type": "chat",
        "body": "hello",
        "caption": "",
        "quotedId": "",
        "mentionsMe": False,
    }
    message.update(overrides)
    return message


# ------------------------------------------------------------------ mapping


def test_a_text_message_keeps_its_text_exactly_and_its_sender_as_digits() -> None:
    text = "  Hi <b>there</b> 🙂\n"
    message = inbound_message(page_message(body=text), account="acct", received_at=NOW)
    assert message.text == text
    assert (message.sender, message.push_name, message.kind) == (
        "15551230001",
        "Alice",
        MessageKind.TEXT,
    )
    assert message.sent_at == datetime(2025, 5, 4, 11, 0, tzinfo=UTC)
    assert message.extra == {"wa_type": "chat", "sender_jid": "15551230001@c.us"}


def test_media_keeps_its_caption_and_metadata_but_never_the_thumbnail_body() -> None:
    digest = hashlib.sha256(b"voice").digest()
    message = inbound_message(
        page_message(
            type="ptt",
            body="",
            caption="",
            mime="audio/ogg; codecs=opus",
            size=5120,
            fileHash=base64.b64encode(digest).decode(),
            duration=7.0,
        ),
        account="acct",
        received_at=NOW,
    )
    assert message.kind is MessageKind.AUDIO
    assert message.text == ""
    assert message.media is not None
    assert message.media.sha256 == digest.hex()
    assert (message.media.size_bytes, message.media.duration_seconds) == (5120, 7.0)


@pytest.mark.parametrize(
    ("wa_type", "kind"),
    [
        ("chat", MessageKind.TEXT),
        ("image", MessageKind.IMAGE),
        ("video", MessageKind.VIDEO),
        ("document", MessageKind.DOCUMENT),
        ("sticker", MessageKind.STICKER),
        ("vcard", MessageKind.CONTACT_CARD),
        ("reaction", MessageKind.REACTION),
        ("poll_creation", MessageKind.OTHER),
    ],
)
def test_whatsapp_types_map_to_parley_kinds(wa_type: str, kind: MessageKind) -> None:
    message = inbound_message(page_message(type=wa_type), account="a", received_at=NOW)
    assert message.kind is kind
    assert message.extra["wa_type"] == wa_type


def test_group_and_status_chats_are_flagged() -> None:
    group = inbound_message(
        page_message(chat="120363000000000001@g.us", sender="15551230002:4@c.us"),
        account="a",
        received_at=NOW,
    )
    assert group.is_group
    assert group.sender == "15551230002"
    status = inbound_message(page_message(chat="status@broadcast"), account="a", received_at=NOW)
    assert status.is_status_broadcast
    assert not status.is_group


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"id": ""}, "id is missing"),
        ({"chat": None}, "chat is missing"),
        ({"body": 42}, "body must be text"),
        ({"t": 0}, "positive timestamp"),
        ({"t": "soon"}, "t must be a number"),
        ({"fromMe": "yes"}, "fromMe must be true or false"),
        ({"body": "x" * 70_000}, "characters long"),
    ],
)
def test_a_malformed_page_message_is_refused_naming_the_field(
    change: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(BadPayload, match=complaint):
        inbound_message(page_message(**change), account="a", received_at=NOW)


@pytest.mark.parametrize(
    ("ack", "status"),
    [
        (1, DeliveryStatus.SENT),
        (2, DeliveryStatus.DELIVERED),
        (3, DeliveryStatus.READ),
        (4, DeliveryStatus.READ),
        (-1, DeliveryStatus.FAILED),
        (0, None),
    ],
)
def test_acks_map_to_delivery_statuses(ack: int, status: DeliveryStatus | None) -> None:
    update = delivery_update(
        {"id": "true_x@c.us_1", "chat": "x@c.us", "ack": ack}, account="a", at=NOW
    )
    assert (update.status if update else None) is status


def test_an_ack_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(BadPayload):
        delivery_update({"id": "i", "chat": "c", "ack": "3"}, account="a", at=NOW)


def test_digits_of_drops_device_and_server() -> None:
    assert digits_of("15551230001:12@c.us") == "15551230001"
    assert digits_of("") == ""


# ------------------------------------------------------------------ states


@pytest.mark.parametrize(
    ("socket", "synced", "was_ready", "state", "settled"),
    [
        ("OPENING", False, False, TransportState.STARTING, False),
        ("OPENING", True, True, TransportState.DISCONNECTED, False),
        ("UNPAIRED", False, False, TransportState.WAITING_FOR_QR_SCAN, True),
        ("UNPAIRED_IDLE", False, False, TransportState.WAITING_FOR_QR_SCAN, True),
        ("PAIRING", False, False, TransportState.AUTHENTICATED, False),
        ("CONNECTED", False, False, TransportState.AUTHENTICATED, False),
        ("CONNECTED", True, False, TransportState.READY, True),
        ("TIMEOUT", True, True, TransportState.DISCONNECTED, False),
        ("CONFLICT", True, True, TransportState.DISCONNECTED, True),
        ("TOS_BLOCK", True, True, TransportState.DISCONNECTED, True),
        ("SOMETHING_NEW", True, True, TransportState.DISCONNECTED, False),
    ],
)
def test_socket_states_read_as_transport_states(
    socket: str, synced: bool, was_ready: bool, state: TransportState, settled: bool
) -> None:
    reading = read_state(socket, synced, was_ready=was_ready)
    assert (reading.state, reading.settled) == (state, settled)


# ------------------------------------------------------------------ ledger


def test_the_ledger_remembers_ids_and_floors_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    ledger = Ledger(path)
    ledger.begin(1000.0)
    ledger.record("a", "chat1", 1010)
    ledger.record("b", "chat1", 1020)
    ledger.hold("c", "chat2", 1005)  # still ciphertext

    again = Ledger(path)
    assert again.since == 1000.0
    assert again.seen("b")
    assert not again.seen("c")
    assert again.floors(2000) == {"chat1": 1020, "chat2": 1005}


def test_a_ciphertext_message_holds_its_chats_floor_down_until_it_is_read() -> None:
    ledger = Ledger(None)
    ledger.record("old", "chat", 100)
    ledger.hold("secret", "chat", 105)
    ledger.record("newer", "chat", 110)
    assert ledger.floors(200) == {"chat": 105}
    ledger.record("secret", "chat", 105)
    assert ledger.floors(200) == {"chat": 110}


def test_a_ciphertext_never_decrypted_stops_holding_the_floor() -> None:
    ledger = Ledger(None)
    ledger.record("newer", "chat", 110)
    ledger.hold("lost", "chat", 100)
    assert ledger.floors(100 + 4 * 24 * 3600) == {"chat": 110}


def test_logging_out_empties_the_ledger(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.json")
    ledger.begin(1.0)
    ledger.record("a", "chat", 5)
    ledger.reset()
    again = Ledger(tmp_path / "ledger.json")
    assert again.since is None
    assert not again.seen("a")
    assert again.floors(10) == {}


def test_a_damaged_ledger_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    ledger = Ledger(path)
    assert ledger.since is None
    ledger.record("a", "chat", 5)  # and it is written afresh
    assert Ledger(path).seen("a")


# ------------------------------------------------------------------ settings


def test_settings_have_safe_defaults() -> None:
    web = config.from_env({})
    assert web == config.WebSettings()
    assert web.url == "https://web.whatsapp.com/"
    assert web.headless


def test_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html></html>")
    web = config.from_env(
        {
            "PARLEY_WHATSAPP_WEB_URL": "http://127.0.0.1:9/",
            "PARLEY_WHATSAPP_WEB_HEADLESS": "no",
            "PARLEY_WHATSAPP_WEB_TYPING_SECONDS": "0",
            "PARLEY_WHATSAPP_WEB_TAKEOVER": "yes",
            "PARLEY_WHATSAPP_WEB_PINNED_PAGE": str(page),
        }
    )
    assert (web.url, web.headless, web.typing_seconds, web.takeover_on_conflict) == (
        "http://127.0.0.1:9/",
        False,
        0.0,
        True,
    )
    assert web.pinned_page == page


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("URL", "web.whatsapp.com"),
        ("HEADLESS", "maybe"),
        ("TYPING_SECONDS", "-1"),
        ("TYPING_SECONDS", "nan"),
        ("CATCHUP_HOURS", "1000"),
        ("PINNED_PAGE", "/no/such/file.html"),
    ],
)
def test_a_bad_setting_is_one_clear_line_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^PARLEY_WHATSAPP_WEB_{name} ") as caught:
        config.from_env({f"PARLEY_WHATSAPP_WEB_{name}": value})
    assert "\n" not in str(caught.value)


def test_backoff_doubles_up_to_its_ceiling() -> None:
    timings = config.Timings(backoff_initial=1, backoff_max=10)
    assert [timings.backoff(n) for n in range(6)] == [1, 2, 4, 8, 10, 10]


# ------------------------------------------------------------------ contract


def test_the_hook_names_nothing_of_whatsapp_web_itself() -> None:
    """Every module name lives in contract.py, so a WhatsApp update is fixed there."""
    source = (Path(contract.__file__).parent / "hook.js").read_text()
    assert not re.search(r"WAWeb|WABase64|Debug\.VERSION|window\.require\(['\"]", source)
    script = contract.hook_script()
    for need in contract.NEEDS:
        for module in need.modules:
            assert module in script


def test_every_need_has_a_known_kind_and_a_unique_key() -> None:
    keys = [need.key for need in contract.NEEDS]
    assert len(keys) == len(set(keys))
    assert {need.kind for need in contract.NEEDS} <= {"function", "object", "any"}


# ------------------------------------------------------------------ QR code


def test_the_qr_code_is_drawn_as_text_and_written_as_a_png(tmp_path: Path) -> None:
    payload = "ref-1,c3RhdGlj,aWRlbnRpdHk=,ADV,Chrome"
    lines = qr.terminal_text(payload).splitlines()
    assert len({len(line) for line in lines}) == 1  # a rectangle
    assert set("".join(lines)) <= set("█▀▄ ")
    png = tmp_path / "qr.png"
    qr.write_png(payload, png)
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert image.format == "PNG"
    assert image.size[0] == image.size[1]
    qr.write_png("another", png)  # a rotation replaces it
    assert png.read_bytes() == qr.png_bytes_for("another")
