"""The page contract: every WhatsApp Web name the bridge relies on, in one place.

WhatsApp Web changes without notice. When an update breaks the bridge, the fix
belongs here: a renamed module goes into a `Need`'s `modules` (the first one that
resolves wins, so old and new names can stand side by side), a renamed model
field or method into `MEMBERS`, a renamed event into `EVENTS`. The injected script (hook.js)
holds no WhatsApp name of its own: it receives all of them from `hook_script()`.

What the page offers, as whatsapp-web.js found it and as the test page mimics it:
* a version marker (`window.Debug.VERSION`) once the page has booted;
* a module system reached through `window.require(name)`;
* `WAWebCollections.Msg` and `.Chat`, collections that emit `add` for a new model
  and re-emit their models' `change:<field>` events (`change:ack`, `change:type`);
* `WAWebSocketModel.Socket`, whose `state` runs through the `SocketState` values
  and whose `hasSynced` turns true once the account's data is loaded;
* `WAWebConnModel.Conn.ref`, the login QR reference, rotated with `change:ref`;
* `WAWebSendMsgChatAction.addAndSendMsgToChat(chat, message)` to send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

from parley.domain.messages import DeliveryStatus, MessageKind

BINDING = "__parleyEmit"  # the function the page calls to hand Python an event
API = "__parley"  # the object the hook installs for Python to call
VERSION_MARKER = ("Debug", "VERSION")  # window.Debug.VERSION


class Role(StrEnum):
    CORE = "core"  # without it the bridge cannot work: the page is reported broken
    LOGIN = "login"  # needed only to draw the login QR code
    OPTIONAL = "optional"  # a nicety (typing, read receipts); skipped with a warning


@dataclass(frozen=True)
class Need:
    """One thing the bridge takes from the page: `path` inside the first of
    `modules` that has it. `kind` is what `typeof` must say."""

    key: str
    modules: tuple[str, ...]
    path: str = ""  # dotted; "" is the module itself
    kind: str = "function"  # "function", "object" or "any"
    role: Role = Role.CORE

    def describe(self) -> str:
        where = self.modules[0] if len(self.modules) == 1 else " or ".join(self.modules)
        return f"{where}.{self.path}" if self.path else where


_REGISTRATION = (
    "WAWebSignalStoreApi",
    "WAWebUserPrefsInfoStore",
    "WAWebAdvSignatureApi",
    "WAWebCompanionRegClientUtils",
)

NEEDS: tuple[Need, ...] = (
    # connection and login
    Need("socket", ("WAWebSocketModel",), "Socket", "object"),
    Need("socket.on", ("WAWebSocketModel",), "Socket.on"),
    Need("socket.takeover", ("WAWebSocketModel",), "Socket.takeover", role=Role.OPTIONAL),
    Need("conn", ("WAWebConnModel",), "Conn", "object"),
    Need("conn.on", ("WAWebConnModel",), "Conn.on"),
    Need("cmd", ("WAWebCmd",), "Cmd", "object"),
    Need("cmd.on", ("WAWebCmd",), "Cmd.on"),
    Need("cmd.refreshQR", ("WAWebCmd",), "Cmd.refreshQR", role=Role.OPTIONAL),
    # The QR code carries the page's public keys next to the reference. Which of
    # these modules holds which key has moved before, so each is looked up in all.
    *(
        Need(f"registration.{key}", _REGISTRATION, path, kind, Role.LOGIN)
        for key, path, kind in (
            ("registrationInfo", "waSignalStore.getRegistrationInfo", "function"),
            ("noiseInfo", "waNoiseInfo.get", "function"),
            ("advSecretKey", "getADVSecretKey", "function"),
            ("platform", "DEVICE_PLATFORM", "any"),
        )
    ),
    Need("base64.encode", ("WABase64",), "encodeB64", role=Role.LOGIN),
    # messages and chats
    Need("msgs", ("WAWebCollections",), "Msg", "object"),
    Need("msgs.on", ("WAWebCollections",), "Msg.on"),
    Need("msgs.get", ("WAWebCollections",), "Msg.get"),
    Need("chats", ("WAWebCollections",), "Chat", "object"),
    Need("chats.get", ("WAWebCollections",), "Chat.get"),
    Need("chats.all", ("WAWebCollections",), "Chat.getModelsArray"),
    Need("me", ("WAWebUserPrefsMeUser",), "getMaybeMePnUser"),
    # sending
    Need("wid.create", ("WAWebWidFactory",), "createWid"),
    Need("msgKey", ("WAWebMsgKey",), ""),
    Need("msgKey.newId", ("WAWebMsgKey",), "newId"),
    Need("send", ("WAWebSendMsgChatAction",), "addAndSendMsgToChat"),
    Need("findChat", ("WAWebFindChatAction",), "findOrCreateLatestChat", role=Role.OPTIONAL),
    Need(
        "ephemeralFields",
        ("WAWebGetEphemeralFieldsMsgActionsUtils",),
        "getEphemeralFields",
        role=Role.OPTIONAL,
    ),
    Need("typing.on", ("WAWebChatStateBridge",), "sendChatStateComposing", role=Role.OPTIONAL),
    Need("typing.off", ("WAWebChatStateBridge",), "sendChatStatePaused", role=Role.OPTIONAL),
    Need("seen", ("WAWebUpdateUnreadChatAction",), "sendSeen", role=Role.OPTIONAL),
    Need("stream", ("WAWebStreamModel",), "Stream", "object", Role.OPTIONAL),
    Need("loadEarlier", ("WAWebChatLoadMessages",), "loadEarlierMsgs", role=Role.OPTIONAL),
)

# Members of WhatsApp Web's models the hook reads, writes or calls, by the name
# the hook uses for them.
MEMBERS: dict[str, str] = {
    # a message
    "id": "id",  # its key (below)
    "type": "type",
    "t": "t",  # seconds since the epoch
    "body": "body",  # the text of a "chat" message; a thumbnail for media
    "caption": "caption",
    "from": "from",
    "to": "to",
    "author": "author",  # the sender in a group
    "notifyName": "notifyName",  # the sender's push name
    "isNewMsg": "isNewMsg",  # true for a message that arrived live, false for history
    "isNotification": "isNotification",
    "ack": "ack",
    "quotedStanzaID": "quotedStanzaID",
    "mentionedJidList": "mentionedJidList",
    "mimetype": "mimetype",
    "size": "size",
    "filename": "filename",
    "filehash": "filehash",  # base64 SHA-256 of the decrypted media
    "duration": "duration",
    "width": "width",
    "height": "height",
    "lat": "lat",
    "lng": "lng",
    "loc": "loc",
    "vcardName": "vcardFormattedName",
    "reactionText": "reactionText",
    "local": "local",
    "self": "self",
    "quoteContext": "msgContextInfo",  # msg.msgContextInfo(chat): the fields that quote it
    # a message key, and the arguments of its constructor
    "keyFromMe": "fromMe",
    "keyRemote": "remote",
    "keyId": "id",
    "keyParticipant": "participant",
    "keySelfDir": "selfDir",
    "serialized": "_serialized",  # on keys and on ids of people and chats
    # a chat and the collections
    "chatId": "id",
    "chatMsgs": "msgs",
    "foundChat": "chat",  # findOrCreateLatestChat(wid) resolves to {chat}
    "seenChat": "chat",  # sendSeen({chat, threadId})
    "seenThread": "threadId",
    "models": "getModelsArray",
    # connection
    "socketState": "state",
    "hasSynced": "hasSynced",
    "ref": "ref",
    "markAvailable": "markAvailable",
    "markUnavailable": "markUnavailable",
    # what the login QR code is built from
    "staticKeyPair": "staticKeyPair",
    "identityKeyPair": "identityKeyPair",
    "pubKey": "pubKey",
}

EVENTS: dict[str, str] = {
    "add": "add",
    "ack": "change:ack",
    "type": "change:type",
    "state": "change:state",
    "synced": "change:hasSynced",
    "ref": "change:ref",
    "logout": "logout",
    "logoutFromBridge": "logout_from_bridge",
}

# The URL WhatsApp Web navigates to after a logout.
LOGOUT_URL_MARK = "post_logout=1"


class SocketState(StrEnum):
    """`Socket.state` values (whatsapp-web.js calls them WAState)."""

    CONNECTED = "CONNECTED"
    OPENING = "OPENING"
    PAIRING = "PAIRING"
    TIMEOUT = "TIMEOUT"
    CONFLICT = "CONFLICT"
    UNPAIRED = "UNPAIRED"
    UNPAIRED_IDLE = "UNPAIRED_IDLE"
    UNLAUNCHED = "UNLAUNCHED"
    DEPRECATED_VERSION = "DEPRECATED_VERSION"
    PROXYBLOCK = "PROXYBLOCK"
    TOS_BLOCK = "TOS_BLOCK"
    SMB_TOS_BLOCK = "SMB_TOS_BLOCK"


# Message `type` values and what Parley calls them. Anything else is OTHER.
KINDS: dict[str, MessageKind] = {
    "chat": MessageKind.TEXT,
    "image": MessageKind.IMAGE,
    "audio": MessageKind.AUDIO,
    "ptt": MessageKind.AUDIO,  # a voice note
    "video": MessageKind.VIDEO,
    "gif": MessageKind.VIDEO,
    "ptv": MessageKind.VIDEO,  # a round video note
    "document": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
    "location": MessageKind.LOCATION,
    "live_location": MessageKind.LOCATION,
    "vcard": MessageKind.CONTACT_CARD,
    "multi_vcard": MessageKind.CONTACT_CARD,
    "reaction": MessageKind.REACTION,
}
TEXT_TYPES = ("chat",)
CIPHERTEXT_TYPE = "ciphertext"  # not decrypted yet: WhatsApp changes the type later
# Entries in the message collection that are not messages someone wrote.
NOT_MESSAGES = (
    "e2e_notification",
    "notification",
    "notification_template",
    "gp2",
    "group_notification",
    "protocol",
    "call_log",
    "revoked",
    "debug",
    "broadcast_notification",
)
STATUS_CHAT = "status@broadcast"
GROUP_SUFFIX = "@g.us"

# `ack` values on a message we sent.
ACKS: dict[int, DeliveryStatus] = {
    -1: DeliveryStatus.FAILED,
    1: DeliveryStatus.SENT,  # the server has it
    2: DeliveryStatus.DELIVERED,  # the recipient's phone has it
    3: DeliveryStatus.READ,
    4: DeliveryStatus.READ,  # played (a voice note): read as well
}


@dataclass(frozen=True)
class HookTimings:
    """How often the injected script looks for the page, and how long it waits
    for the modules before it reports which ones are missing."""

    poll_ms: int = 250
    contract_grace_ms: int = 20_000
    send_ack_wait_ms: int = 0  # 0: return once the message is queued in the page


def contract_document(timings: HookTimings) -> dict[str, object]:
    """The names and settings the injected script reads, as one JSON-able dict."""
    return {
        "binding": BINDING,
        "api": API,
        "versionMarker": list(VERSION_MARKER),
        "needs": [
            {
                "key": need.key,
                "modules": list(need.modules),
                "path": need.path,
                "kind": need.kind,
                "role": need.role.value,
                "describe": need.describe(),
            }
            for need in NEEDS
        ],
        "members": MEMBERS,
        "events": EVENTS,
        "states": {state.name: state.value for state in SocketState},
        "textTypes": list(TEXT_TYPES),
        "ciphertextType": CIPHERTEXT_TYPE,
        "groupSuffix": GROUP_SUFFIX,
        "notMessages": list(NOT_MESSAGES),
        "timings": {
            "pollMs": timings.poll_ms,
            "contractGraceMs": timings.contract_grace_ms,
            "sendAckWaitMs": timings.send_ack_wait_ms,
        },
    }


_PLACEHOLDER = "__PARLEY_CONTRACT__"


def hook_script(timings: HookTimings | None = None) -> str:
    """The script injected into every document: hook.js with the contract filled in."""
    source = resources.files("parley.bridge.whatsapp_web").joinpath("hook.js").read_text("utf-8")
    if source.count(_PLACEHOLDER) != 1:
        raise RuntimeError("hook.js must hold the contract placeholder exactly once")
    document = json.dumps(contract_document(timings or HookTimings()), sort_keys=True)
    return source.replace(_PLACEHOLDER, document)
