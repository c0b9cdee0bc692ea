"""Group commit: saves that arrive while a transaction is running are written
together, in the next one.

Writers of one log serialise on its counter document (DESIGN.md), so within one
process they queue anyway. A queue of one-save transactions pays one commit each
(about 2.7 ms on the embedded server), while one transaction holding ten saves
costs about 6 ms (EMBEDDED_DB.md). So whoever is at the head of the queue takes
every save waiting behind it into one transaction, and hands the head to the next
waiter when it is done. Nobody waits for a group to fill: a save that finds no
transaction running is written at once, alone.

Each save stays atomic (its events and unique keys are written together or not at
all) and keeps its own outcome: if a group's transaction fails on an integrity
error (a version conflict, a unique key already claimed), its saves are written
again one transaction each, so each gets exactly the result it would have got
alone. Saves of a group are independent facts; committing them together only
makes them visible at the same moment, in the order they were queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError

Document = dict[str, Any]


@dataclass
class PendingSave:
    """One save's documents and unique keys, waiting for its transaction."""

    documents: list[Document]
    unique_keys: Sequence[str]
    ids: list[int] = field(default_factory=list)
    error: BaseException | None = None
    finished: bool = False
    lead: bool = False  # this save's thread writes the next group
    wake: threading.Event = field(default_factory=threading.Event)


# Writes a group in one transaction; returns the notification ids of each save.
WriteGroup = Callable[[Sequence[PendingSave]], list[list[int]]]


class GroupCommit:
    def __init__(self, write: WriteGroup, *, max_documents: int = 500) -> None:
        self._write = write
        self.max_documents = max_documents
        self._mutex = threading.Lock()
        self._queue: list[PendingSave] = []
        self._leading = False
        self.groups = 0  # transactions written, for tests and benchmarks
        self.saves = 0

    def submit(self, save: PendingSave) -> list[int]:
        """Writes `save` (alone or with others); returns its notification ids or
        raises what its transaction raised."""
        with self._mutex:
            self._queue.append(save)
            if not self._leading:
                self._leading = save.lead = True
        while True:
            if not save.lead:
                save.wake.wait()
            if save.finished:
                break
            save.wake.clear()
            self._write_next_group()
        if save.error is not None:
            raise save.error
        return save.ids

    def _write_next_group(self) -> None:
        with self._mutex:
            group: list[PendingSave] = []
            documents = 0
            while self._queue and (
                not group or documents + len(self._queue[0].documents) <= self.max_documents
            ):
                documents += len(self._queue[0].documents)
                group.append(self._queue.pop(0))
        try:
            self._write_group(group)
        finally:
            with self._mutex:
                for save in group:
                    save.finished = True
                    save.wake.set()
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._leading = False

    def _write_group(self, group: list[PendingSave]) -> None:
        self.groups += 1
        self.saves += len(group)
        try:
            results = self._write(group)
        except IntegrityError as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            # Someone in the group conflicts: give each save its own transaction,
            # and so its own outcome.
            for save in group:
                try:
                    self.groups += 1
                    save.ids = self._write([save])[0]
                except BaseException as single:  # handed to its caller
                    save.error = single
            return
        except BaseException as exc:  # handed to every caller
            for save in group:
                save.error = exc
            return
        for save, ids in zip(group, results, strict=True):
            save.ids = ids
