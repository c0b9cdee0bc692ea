"""Tokens, rate limits, strict validation, security headers and CORS."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from parley.http.app import create_app
from parley.http.auth import TokenSet, operator_name
from parley.http.config import ApiSettings
from parley.http.headers import HEADERS
from parley.http.ratelimit import RateLimiter
from parley.http.routes import ROUTES
from testkit.api import OTHER_TOKEN, TOKEN, api_config, bearer

SOME_ID = "00000000-0000-4000-8000-000000000000"


def concrete(path: str) -> str:
    return path.replace("{thread_id}", SOME_ID).replace("{contact_id}", SOME_ID)


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.public], ids=lambda r: r.operation_id)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "],
)
async def test_every_protected_route_answers_401_without_a_valid_token(
    client, route, authorization
):
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.request(
        route.method, concrete(route.path), headers=headers, json={} if route.body else None
    )
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"]["status"] == 401


async def test_health_and_the_dashboard_page_need_no_token(client):
    assert (await client.get("/api/v1/health")).status == 200
    page = await client.get("/")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert (await client.get("/static/app.js")).status == 200


async def test_each_configured_token_is_accepted(client):
    for token in (TOKEN, OTHER_TOKEN):
        response = await client.get("/api/v1/threads", headers=bearer(token))
        assert response.status == 200


def test_a_token_names_its_operator_without_revealing_itself():
    tokens = TokenSet((TOKEN, OTHER_TOKEN))
    assert tokens.identify(f"Bearer {TOKEN}") == operator_name(TOKEN.encode())
    assert tokens.identify(f"bearer {OTHER_TOKEN}") == operator_name(OTHER_TOKEN.encode())
    assert TOKEN not in operator_name(TOKEN.encode())
    for header in (None, "", TOKEN, f"Bearer {TOKEN[:-1]}", f"Token {TOKEN}"):
        assert tokens.identify(header) is None


async def limited_client(config: Any, clock: Any, rate: float, burst: int) -> TestClient[Any, Any]:
    limited = config.__class__(
        settings=config.settings,
        api=ApiSettings(rate_per_second=rate, burst=burst),
        mongodb_uri=config.mongodb_uri,
        tokens=config.tokens,
    )
    return TestClient(TestServer(create_app(limited, clock=clock)))


async def test_a_burst_beyond_the_limit_gets_429_with_retry_after(config, clock):
    async with await limited_client(config, clock, rate=0.5, burst=5) as client:
        statuses = [
            (await client.get("/api/v1/threads", headers=bearer())).status for _ in range(8)
        ]
        assert statuses[:5] == [200] * 5
        assert set(statuses[5:]) == {429}
        refused = await client.get("/api/v1/threads", headers=bearer())
        assert refused.status == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "retry after" in (await refused.json())["error"]["message"]
        # Another token has a bucket of its own.
        assert (await client.get("/api/v1/threads", headers=bearer(OTHER_TOKEN))).status == 200


async def test_requests_without_a_token_are_limited_by_address(config, clock):
    async with await limited_client(config, clock, rate=0.5, burst=3) as client:
        statuses = [(await client.get("/api/v1/health")).status for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        # Guessing tokens is limited the same way.
        guess = await client.get("/api/v1/threads", headers=bearer("guess-0123456789abcdef"))
        assert guess.status == 429


def test_a_bucket_refills_at_its_rate_and_not_beyond_its_burst():
    now = [0.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] += 0.5  # one request's worth
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    now[0] += 100  # long idle: back to a full burst, no more
    assert [limiter.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert limiter.take("a") > 0


def test_the_bucket_table_forgets_the_least_recent_client_when_full():
    limiter = RateLimiter(1.0, 1, max_clients=2, clock=lambda: 0.0)
    limiter.take("a")
    limiter.take("b")
    limiter.take("c")  # "a" is forgotten: it starts again with a full bucket
    assert limiter.take("a") == 0.0
    assert limiter.take("c") > 0


@pytest.mark.parametrize(
    "query",
    [
        "state[$ne]=x",
        "$where=1",
        "state.x=active",
        "state=active&state=idle",
        "unknown=1",
        "state=closed",
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=1.5",
        "updated_since=yesterday",
        "updated_since=2025-02-30T00:00:00Z",
        "updated_since=2025-03-01T09:00:00",
        "cursor=%24gt",
        "account=a.b",
        "account=%7B%22%24gt%22%3A%22%22%7D",
    ],
)
async def test_bad_query_strings_get_400(client, query):
    response = await client.get(f"/api/v1/threads?{query}", headers=bearer())
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    "query", ["from=2025-13-01", "granularity=week", "from=2025-03-10&to=2025-03-01"]
)
async def test_bad_analytics_ranges_get_400(client, query):
    response = await client.get(f"/api/v1/analytics?{query}", headers=bearer())
    assert response.status == 400


async def test_an_hourly_range_longer_than_a_month_gets_400(client):
    response = await client.get(
        "/api/v1/analytics?granularity=hour&from=2025-01-01&to=2025-03-01", headers=bearer()
    )
    assert response.status == 400


@pytest.mark.parametrize(
    "body",
    [
        {"name": {"$gt": ""}},
        {"$set": {"name": "x"}},
        {"name.first": "x"},
        {"custom": {"topics": [{"$ne": 1}]}},
        {"custom": {"personality": "x", "$where": "1"}},
        {"name": ["a"]},
        {"name": None},
        {"priority": "3"},
        {"priority": True},
        {"priority": 11},
        {"relationship": "enemy"},
        {"language": "not a tag"},
        {"name": "x" * 501},
        {"custom": {"topics": ["t"] * 51}},
        {"unknown": 1},
        {},
        [],
        "name",
    ],
)
async def test_bad_bodies_get_400(client, body):
    response = await client.patch(f"/api/v1/contacts/{SOME_ID}", json=body, headers=bearer())
    assert response.status == 400, await response.text()


async def test_a_body_must_be_json_of_a_bounded_size(client, config):
    path = f"/api/v1/contacts/{SOME_ID}"
    broken = await client.patch(
        path, data=b'{"name": ', headers={**bearer(), "Content-Type": "application/json"}
    )
    assert broken.status == 400
    form = await client.patch(path, data={"name": "x"}, headers=bearer())
    assert form.status == 415
    huge = await client.patch(
        path, json={"name": "x" * (config.api.max_body_bytes + 10)}, headers=bearer()
    )
    assert huge.status == 413
    assert (await huge.json())["error"]["status"] == 413


async def test_security_headers_are_on_every_answer(client):
    answers = [
        await client.get("/"),
        await client.get("/static/style.css"),
        await client.get("/api/v1/health"),
        await client.get("/api/v1/threads"),  # 401
        await client.get("/api/v1/threads/x", headers=bearer()),  # 400
        await client.get("/nowhere", headers=bearer()),  # 404
    ]
    for response in answers:
        for name, value in HEADERS.items():
            assert response.headers.get(name) == value, (response.url, name)
    csp = HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert answers[2].headers["Cache-Control"] == "no-store"


async def test_cors_is_off_unless_configured(client):
    response = await client.get(
        "/api/v1/threads", headers={**bearer(), "Origin": "https://elsewhere.example"}
    )
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = await client.options(
        "/api/v1/threads",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_cors_answers_only_the_configured_origins(mongo_uri, database_name, clock):
    allowed = "https://ops.example"
    config = api_config(
        mongo_uri,
        database_name,
        api=ApiSettings(rate_per_second=1000, burst=1000, cors_origins=(allowed,)),
    )
    async with TestClient(TestServer(create_app(config, clock=clock))) as client:
        preflight = await client.options(
            "/api/v1/threads",
            headers={
                "Origin": allowed,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == allowed
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        answer = await client.get("/api/v1/threads", headers={**bearer(), "Origin": allowed})
        assert answer.headers["Access-Control-Allow-Origin"] == allowed
        other = await client.get(
            "/api/v1/threads", headers={**bearer(), "Origin": "https://evil.example"}
        )
        assert "Access-Control-Allow-Origin" not in other.headers
