"""Keyset pagination, newest first, over `(time, _id)`, read in bounded time windows.

A page after a cursor `(t, id)` holds the documents with `(time, _id) < (t, id)`:
first those tied at `t` with a smaller id, then those strictly older. Nothing is
skipped or repeated, ties included, whatever is written meanwhile.

Why windows: the embedded server neither pushes a limit into an index scan nor
stops a sorted scan early (EMBEDDED_DB.md), so "sort, limit 51" reads the whole
index range. Each query here asks for one closed time window on an index whose
prefix is the query's equality fields; the next window is sized from how many
documents the last one held, and grows fast while windows come back empty. A
page costs about the documents it returns, not the collection.

Filters that the index does not hold are applied here, in Python, on documents
the window already fetched: on that server an extra predicate turns an indexed
query into a full scan.

Lower bounds are written `$gt: t - 1 ms`, never `$gte: t`: on an index key in
descending order, the embedded server (SecantusDB 0.7.0b3) reads `$gte` as `$gt`
and drops the documents at exactly `t`. BSON dates hold milliseconds, so the two
forms select the same documents anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from parley.http.errors import BadRequest
from pymongo.asynchronous.collection import AsyncCollection

Document = dict[str, Any]
FLOOR = datetime(1970, 1, 1, tzinfo=UTC)  # nothing in a read model is older
FIRST_SPAN = timedelta(hours=1)
TICK = timedelta(milliseconds=1)  # the precision of a BSON date
MIN_SPAN = timedelta(seconds=1)
MAX_GROWTH = 16.0


@dataclass(frozen=True)
class Cursor:
    at: datetime  # millisecond precision, like a BSON date
    id: str


@dataclass(frozen=True)
class Page:
    items: list[Document]
    next_cursor: str | None
    windows: int  # queries it took, for tests and metrics


def scope_of(filters: Mapping[str, object]) -> str:
    """A short digest of the filters a cursor was made for."""
    text = orjson.dumps({k: str(v) for k, v in sorted(filters.items())})
    return hashlib.sha256(text).hexdigest()[:12]


def encode_cursor(cursor: Cursor, scope: str) -> str:
    millis = int(cursor.at.timestamp() * 1000)
    raw = orjson.dumps([millis, cursor.id, scope])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, scope: str) -> Cursor:
    """The cursor a previous page returned; BadRequest if it is not one, or was made
    for other filters."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        millis, identifier, made_for = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        raise BadRequest("cursor is not one this API returned") from None
    if (
        not isinstance(millis, int)
        or isinstance(millis, bool)
        or not isinstance(identifier, str)
        or not 0 < len(identifier) <= 100
        or not 0 <= millis < 253_402_300_800_000  # before year 10000
    ):
        raise BadRequest("cursor is not one this API returned")
    if made_for != scope:
        raise BadRequest("cursor was made for other filters: start again without it")
    return Cursor(at=datetime.fromtimestamp(millis / 1000, tz=UTC), id=identifier)


async def newest_first(
    collection: AsyncCollection[Document],
    *,
    equality: Mapping[str, str],
    time_field: str,
    limit: int,
    after: Cursor | None,
    since: datetime | None,
    keep: Callable[[Document], bool],
    projection: Mapping[str, int],
    now: datetime,
    scope: str,
) -> Page:
    """One page of documents matching `equality` (an index prefix) and `keep`."""
    wanted = limit + 1  # one more tells whether a next page exists
    floor = max(FLOOR, since) if since is not None else FLOOR
    found: list[Document] = []
    windows = 0

    def take(documents: list[Document]) -> int:
        """Keeps the matches of one window, newest first; returns how many."""
        kept = [d for d in documents if isinstance(d.get(time_field), datetime) and keep(d)]
        kept.sort(key=lambda d: (d[time_field], str(d["_id"])), reverse=True)
        found.extend(kept)
        return len(kept)

    upper: datetime | None = None  # exclusive; None: no upper bound
    if after is not None:
        if after.at < floor:
            return Page(items=[], next_cursor=None, windows=0)
        tied = await _fetch(collection, {**equality, time_field: after.at}, projection)
        windows += 1
        take([d for d in tied if str(d["_id"]) < after.id])
        upper = after.at
    anchor = upper or now
    span = FIRST_SPAN
    while len(found) < wanted and (upper is None or upper > floor):
        lower = anchor - span if anchor - span > floor else floor
        bounds: dict[str, datetime] = {"$gt": lower - TICK}  # i.e. >= lower
        if upper is not None:
            bounds["$lt"] = upper
        batch = await _fetch(collection, {**equality, time_field: bounds}, projection)
        windows += 1
        kept = take(batch)
        if lower == floor:
            break
        span = next_span(
            span,
            lower=lower,
            upper=upper,
            batch=batch,
            time_field=time_field,
            kept=kept,
            missing=wanted - len(found),
        )
        upper = anchor = lower
    items = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = items[-1]
        next_cursor = encode_cursor(Cursor(at=last[time_field], id=str(last["_id"])), scope)
    return Page(items=items, next_cursor=next_cursor, windows=windows)


def next_span(
    span: timedelta,
    *,
    lower: datetime,
    upper: datetime | None,
    batch: list[Document],
    time_field: str,
    kept: int,
    missing: int,
) -> timedelta:
    """The next window's length: enough, at the density just seen, for what is
    missing (half as much again), within a factor of 16 of this one; after an empty
    window, 16 times as long, to cross gaps in few queries."""
    if kept == 0:
        return span * MAX_GROWTH
    # The part of the window that held data: an open window's newest document
    # may lie far below its "now", and the density is of that part only.
    times = [d[time_field] for d in batch if isinstance(d.get(time_field), datetime)]
    covered = (upper if upper is not None else max(times)) - lower
    wanted = covered * (1.5 * missing / kept)
    return min(span * MAX_GROWTH, max(span / MAX_GROWTH, wanted, MIN_SPAN))


async def _fetch(
    collection: AsyncCollection[Document], query: Document, projection: Mapping[str, int]
) -> list[Document]:
    cursor = collection.find(query, dict(projection) or None)
    return [document async for document in cursor]
