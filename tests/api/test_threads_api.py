"""The thread list, one thread and its timeline, over read models seeded as SCHEMA.md says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from testkit.api import bearer
from testkit.seeding import (
    EPOCH,
    inbound_message_document,
    reply_document,
    seed_threads,
    thread_document,
)


async def walk(client: Any, path: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    separator = "&" if "?" in path else "?"
    for _ in range(10_000):
        url = f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url, headers=bearer())
        assert response.status == 200, await response.text()
        page = await response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def newest_first(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["last_message_at"], item["id"]) for item in items]


async def test_cursor_pagination_over_1000_threads_skips_and_repeats_nothing(client, db):
    # Runs of 7 threads share one last_message_at: ties must page by id.
    seeded = seed_threads(db, 1_000, same_time_every=7, spacing=timedelta(minutes=3))
    for limit in (50, 37):
        items = await walk(client, "/api/v1/threads", limit)
        ids = [item["id"] for item in items]
        assert len(ids) == len(set(ids)) == 1_000
        assert set(ids) == {document["_id"] for document in seeded}
        keys = newest_first(items)
        assert keys == sorted(keys, reverse=True)


async def test_filtered_pagination_returns_each_match_once(client, db):
    seeded = seed_threads(db, 1_000, same_time_every=5)
    idle = {d["_id"] for d in seeded if d["state"] == "idle"}
    items = await walk(client, "/api/v1/threads?state=idle", 40)
    assert [item["id"] for item in items if item["state"] != "idle"] == []
    assert sorted(item["id"] for item in items) == sorted(idle)

    friends = {d["_id"] for d in seeded if d["relationship"] == "friend" and d["state"] == "active"}
    items = await walk(client, "/api/v1/threads?relationship=friend&state=active", 25)
    assert sorted(item["id"] for item in items) == sorted(friends)


async def test_threads_can_be_listed_since_a_time(client, db):
    seed_threads(db, 100, spacing=timedelta(hours=1))
    since = (EPOCH - timedelta(hours=9)).isoformat().replace("+00:00", "Z")
    response = await client.get(f"/api/v1/threads?updated_since={since}", headers=bearer())
    page = await response.json()
    assert len(page["items"]) == 10  # the newest, and the nine hours before it
    assert page["next_cursor"] is None


async def test_threads_of_another_account_are_not_listed(client, db):
    seed_threads(db, 5)
    seed_threads(db, 5, account="other")
    mine = await (await client.get("/api/v1/threads", headers=bearer())).json()
    theirs = await (await client.get("/api/v1/threads?account=other", headers=bearer())).json()
    assert {t["account"] for t in mine["items"]} == {"default"}
    assert {t["account"] for t in theirs["items"]} == {"other"}
    assert len(mine["items"]) == len(theirs["items"]) == 5


async def test_threads_spread_over_years_are_all_found(client, db):
    # Windows grow while they come back empty: a long gap costs a few queries only.
    old = thread_document(last_message_at=EPOCH - timedelta(days=3 * 365))
    new = thread_document(last_message_at=EPOCH)
    db["rm_threads"].insert_many([old, new])
    items = await walk(client, "/api/v1/threads", 1)
    assert [item["id"] for item in items] == [new["_id"], old["_id"]]


async def test_a_cursor_made_for_other_filters_is_refused(client, db):
    seed_threads(db, 10)
    page = await (await client.get("/api/v1/threads?limit=2", headers=bearer())).json()
    response = await client.get(
        f"/api/v1/threads?state=idle&cursor={page['next_cursor']}", headers=bearer()
    )
    assert response.status == 400
    assert "other filters" in (await response.json())["error"]["message"]


async def test_a_forged_cursor_is_refused(client):
    for cursor in ("bm90LWpzb24", "WzEsMiwzXQ", "AAAA", "W251bGwsIngiLCJ5Il0"):
        response = await client.get(f"/api/v1/threads?cursor={cursor}", headers=bearer())
        assert response.status == 400, cursor


async def test_one_thread_is_shown_by_id(client, db):
    thread = thread_document(contact_name="Ana <b>Souza</b>", topics=["friday"])
    db["rm_threads"].insert_one(thread)
    response = await client.get(f"/api/v1/threads/{thread['_id']}", headers=bearer())
    assert response.status == 200
    shown = await response.json()
    assert shown["id"] == thread["_id"]
    assert shown["contact_name"] == "Ana <b>Souza</b>"  # stored as written
    assert shown["last_message_at"] == "2025-03-01T09:00:00Z"
    assert "_id" not in shown


async def test_an_unknown_thread_is_404_and_a_malformed_id_is_400(client):
    unknown = await client.get(
        "/api/v1/threads/00000000-0000-4000-8000-000000000000", headers=bearer()
    )
    assert unknown.status == 404
    malformed = await client.get("/api/v1/threads/not-a-uuid", headers=bearer())
    assert malformed.status == 400


def seed_timeline(db: Any, count: int) -> dict[str, Any]:
    thread = thread_document()
    documents = []
    for index in range(count):
        at = EPOCH + timedelta(minutes=index)
        documents.append(
            inbound_message_document(
                thread,
                wa_message_id=f"w{index}",
                text=f"Question {index} about FRIDAY",
                at=at,
                seq=100 + 2 * index,
            )
        )
        documents.append(
            reply_document(
                thread,
                reply_id=f"r{index}",
                in_reply_to=f"w{index}",
                text=f"Answer {index}",
                at=at + timedelta(seconds=3),
                seq=101 + 2 * index,
            )
        )
    db["rm_threads"].insert_one(thread)
    db["rm_messages"].insert_many(documents)
    other = thread_document()
    db["rm_messages"].insert_one(
        inbound_message_document(other, wa_message_id="x", text="friday", at=EPOCH, seq=99)
    )
    return thread


async def test_a_timeline_pages_in_log_order(client, db):
    thread = seed_timeline(db, 30)
    seqs: list[int] = []
    after = 0
    while after is not None:
        response = await client.get(
            f"/api/v1/threads/{thread['_id']}/messages?after={after}&limit=7", headers=bearer()
        )
        page = await response.json()
        seqs += [message["seq"] for message in page["items"]]
        after = page["next_after"]
    assert seqs == list(range(100, 160))
    first = await (
        await client.get(f"/api/v1/threads/{thread['_id']}/messages?limit=2", headers=bearer())
    ).json()
    inbound, reply = first["items"]
    assert inbound["direction"] == "in"
    assert inbound["sentiment"]["label"] == "positive"
    assert reply["direction"] == "out"
    assert reply["reply_status"] == "sent"


async def test_a_timeline_search_ignores_case_and_stays_in_the_thread(client, db):
    thread = seed_timeline(db, 12)
    response = await client.get(
        f"/api/v1/threads/{thread['_id']}/messages?q=friday&limit=5", headers=bearer()
    )
    page = await response.json()
    assert [m["text"] for m in page["items"]] == [f"Question {i} about FRIDAY" for i in range(5)]
    rest = await (
        await client.get(
            f"/api/v1/threads/{thread['_id']}/messages?q=friday&after={page['next_after']}",
            headers=bearer(),
        )
    ).json()
    assert len(rest["items"]) == 7
    assert rest["next_after"] is None
    none = await (
        await client.get(f"/api/v1/threads/{thread['_id']}/messages?q=zebra", headers=bearer())
    ).json()
    assert none == {"items": [], "next_after": None}


async def test_the_timeline_of_an_unknown_thread_is_404(client):
    response = await client.get(
        "/api/v1/threads/00000000-0000-4000-8000-000000000000/messages", headers=bearer()
    )
    assert response.status == 404
