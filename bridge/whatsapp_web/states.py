"""WhatsApp Web's connection states, read as Parley's `TransportState`.

`settled` says whether a state can last without anything being wrong with the
page: waiting for a person (a QR scan, a session taken elsewhere, a block) or
working. The watchdog reloads a page that stays unsettled too long.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.bridge.ports import TransportState
from parley.bridge.whatsapp_web.contract import SocketState


@dataclass(frozen=True)
class Reading:
    state: TransportState
    detail: str
    settled: bool


_BLOCKS = {
    SocketState.TOS_BLOCK: "WhatsApp blocked this account for breaking its terms (TOS_BLOCK)",
    SocketState.SMB_TOS_BLOCK: "WhatsApp blocked this business account (SMB_TOS_BLOCK)",
    SocketState.PROXYBLOCK: "WhatsApp refuses this network or proxy (PROXYBLOCK)",
    SocketState.DEPRECATED_VERSION: "WhatsApp Web says it is too old (DEPRECATED_VERSION)",
}


def read_state(socket_state: str, synced: bool, *, was_ready: bool) -> Reading:
    """`was_ready`: this page has been ready before, so a connecting state now
    means the connection was lost rather than still coming up."""
    match socket_state:
        case SocketState.CONNECTED if synced:
            return Reading(TransportState.READY, "", settled=True)
        case SocketState.CONNECTED:
            return Reading(TransportState.AUTHENTICATED, "loading the account", settled=False)
        case SocketState.PAIRING:
            return Reading(TransportState.AUTHENTICATED, "pairing with the phone", settled=False)
        case SocketState.UNPAIRED | SocketState.UNPAIRED_IDLE:
            return Reading(TransportState.WAITING_FOR_QR_SCAN, "scan the QR code", settled=True)
        case SocketState.CONFLICT:
            return Reading(
                TransportState.DISCONNECTED,
                "the session was opened in another browser (CONFLICT)",
                settled=True,
            )
        case SocketState.TIMEOUT:
            return Reading(
                TransportState.DISCONNECTED,
                "lost the connection; WhatsApp Web is retrying (TIMEOUT)",
                settled=False,
            )
        case SocketState.OPENING | SocketState.UNLAUNCHED | "":
            if was_ready:
                return Reading(
                    TransportState.DISCONNECTED,
                    f"reconnecting ({socket_state or 'no state'})",
                    settled=False,
                )
            return Reading(TransportState.STARTING, "connecting", settled=False)
    if socket_state in _BLOCKS:
        return Reading(
            TransportState.DISCONNECTED, _BLOCKS[SocketState(socket_state)], settled=True
        )
    return Reading(
        TransportState.DISCONNECTED, f"unknown connection state {socket_state!r}", settled=False
    )
