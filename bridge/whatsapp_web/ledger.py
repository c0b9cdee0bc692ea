"""What this account has already handed on, kept next to the browser profile.

Two jobs: never emit a message id twice, and know where to look again after a
gap (a crash, a reconnect, a restart). Per chat it keeps the timestamp of the
newest message handed on (the catch-up floor) and holds it down while an older
message of that chat is still ciphertext, so that one is not skipped. WhatsApp
stamps messages in whole seconds, so the ids recently handed on are kept too:
the catch-up looks at the floor's second again and skips those.

It is written after each change (a small JSON file, replaced atomically), so a
restarted bridge picks up where the last one stopped.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_PENDING_MAX_AGE = 3 * 24 * 3600  # ciphertext never decrypted stops holding the floor


class Ledger:
    def __init__(self, path: Path | None, *, keep_ids: int = 5000) -> None:
        self._path = path
        self._keep_ids = keep_ids
        self.since: float | None = None  # when this account was first ready
        self._chats: dict[str, float] = {}
        self._pending: dict[str, tuple[str, float]] = {}
        self._recent: OrderedDict[str, tuple[str, float]] = OrderedDict()
        if path is not None:
            self._load(path)

    def seen(self, wa_id: str) -> bool:
        return wa_id in self._recent

    def record(self, wa_id: str, chat_id: str, t: float) -> None:
        """`wa_id` has been handed on (or sent by Parley itself)."""
        self._pending.pop(wa_id, None)
        self._recent[wa_id] = (chat_id, t)
        self._recent.move_to_end(wa_id)
        while len(self._recent) > self._keep_ids:
            self._recent.popitem(last=False)
        self._chats[chat_id] = max(t, self._chats.get(chat_id, t))
        self._save()

    def hold(self, wa_id: str, chat_id: str, t: float) -> None:
        """`wa_id` exists but cannot be read yet."""
        if wa_id not in self._recent and wa_id not in self._pending:
            self._pending[wa_id] = (chat_id, t)
            self._save()

    def begin(self, now: float) -> None:
        """The account is ready for the first time: nothing older is news."""
        if self.since is None:
            self.since = now
            self._save()

    def floors(self, now: float) -> dict[str, float]:
        """Per chat, the oldest timestamp the catch-up must look at."""
        for wa_id, (_, t) in list(self._pending.items()):
            if now - t > _PENDING_MAX_AGE:
                del self._pending[wa_id]
        return self._floor_map()

    def _floor_map(self) -> dict[str, float]:
        floors = dict(self._chats)
        for chat_id, t in self._pending.values():
            floors[chat_id] = min(t, floors.get(chat_id, t))
        return floors

    def reset(self) -> None:
        """The account logged out: a new login starts afresh."""
        self.since = None
        self._chats.clear()
        self._pending.clear()
        self._recent.clear()
        self._save()

    # ------------------------------------------------------------ the file

    def _load(self, path: Path) -> None:
        try:
            document: dict[str, Any] = json.loads(path.read_text("utf-8"))
            since = document.get("since")
            self.since = float(since) if since is not None else None
            self._chats = {str(k): float(v) for k, v in document.get("chats", {}).items()}
            self._pending = {
                str(k): (str(v[0]), float(v[1])) for k, v in document.get("pending", {}).items()
            }
            self._recent = OrderedDict(
                (str(k), (str(c), float(t))) for k, c, t in document.get("recent", [])
            )
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            # A damaged ledger costs a catch-up window, not the bridge: the intake
            # downstream is idempotent by message id.
            log.warning("ignoring a damaged ledger", extra={"path": str(path)}, exc_info=True)

    def _save(self) -> None:
        if self._path is None:
            return
        # Only ids at or above their chat's floor can come back in a catch-up.
        floors = self._floor_map()
        recent = [[k, c, t] for k, (c, t) in self._recent.items() if t >= floors.get(c, 0)]
        document = {
            "since": self.since,
            "chats": self._chats,
            "pending": {k: [c, t] for k, (c, t) in self._pending.items()},
            "recent": recent,
        }
        temporary = self._path.with_name(self._path.name + ".tmp")
        temporary.write_text(json.dumps(document), "utf-8")
        os.replace(temporary, self._path)
