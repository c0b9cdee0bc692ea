"""What the Cloud API transport keeps in memory to spare the database a round trip
on every message: when each contact last wrote, and which sends it recorded as
accepted. The database stays the record; this is what the process already knows.

* Windows: a contact's last message is kept here as it arrives. The stored copy
  is rewritten only when it would trail by `write_slack` or more, so a burst of
  messages writes once; after a restart the stored copy is read (at most
  `write_slack` old, which only ever shortens the 24-hour window, never lengthens
  it). A send checks the window here first and reads the database only when the
  window seems closed or this process has not seen the contact yet.
* Accepted sends: a status webhook for a send this process recorded as accepted
  needs no write to say so again.

Both are bounded (least recently used entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

WRITE_SLACK = timedelta(minutes=1)
REMEMBERED = 50_000


class _Bounded(OrderedDict[str, datetime]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: str, value: datetime) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class WindowMemory:
    def __init__(self, write_slack: timedelta = WRITE_SLACK, limit: int = REMEMBERED) -> None:
        self.write_slack = write_slack
        self._latest = _Bounded(limit)  # newest message seen from each chat
        self._stored = _Bounded(limit)  # newest time known to be in the database

    def needs_write(self, chat_id: str, at: datetime) -> bool:
        """Notes a message from `chat_id` at `at`; True if the stored window must be
        rewritten (call `stored` once it is)."""
        latest = self._latest.get(chat_id)
        if latest is None or at > latest:
            self._latest.keep(chat_id, at)
        stored = self._stored.get(chat_id)
        return stored is None or at - stored >= self.write_slack

    def stored(self, chat_id: str, at: datetime) -> None:
        current = self._stored.get(chat_id)
        if current is None or at > current:
            self._stored.keep(chat_id, at)

    def last_inbound(self, chat_id: str) -> datetime | None:
        """The newest message this process has seen from `chat_id`, if any."""
        return self._latest.get(chat_id)


class AcceptedSends:
    def __init__(self, limit: int = REMEMBERED) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.limit = limit

    def add(self, outbound_id: str) -> None:
        self._ids[outbound_id] = None
        self._ids.move_to_end(outbound_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)

    def __contains__(self, outbound_id: object) -> bool:
        return outbound_id in self._ids
