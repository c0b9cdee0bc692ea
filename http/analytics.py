"""Analytics over a date range, per day or per hour (UTC buckets)."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web
from parley.http import keys, readmodels
from parley.http.errors import BadRequest
from parley.http.readmodels import public
from parley.http.responses import json_response
from parley.http.routing import Args

MAX_DAYS = {"day": 366, "hour": 31}
DEFAULT_DAYS = 30
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


async def get_analytics(request: web.Request, args: Args) -> web.StreamResponse:
    granularity: str = args["granularity"]
    last = args.get("to") or request.app[keys.CLOCK]().date()
    if not EARLIEST <= last <= LATEST:
        raise BadRequest(f"'to' must be from {EARLIEST} to {LATEST}")
    first = args.get("from") or max(
        EARLIEST, last - timedelta(days=min(DEFAULT_DAYS, MAX_DAYS[granularity]) - 1)
    )
    if first > last:
        raise BadRequest("'from' must not be after 'to'")
    if (last - first).days + 1 > MAX_DAYS[granularity]:
        raise BadRequest(f"a range of {granularity}s spans at most {MAX_DAYS[granularity]} days")
    account = args.get("account") or request.app[keys.CONFIG].account
    buckets = await readmodels.analytics(
        request.app[keys.DATABASE], account, granularity, first, last
    )
    return json_response(
        {
            "account": account,
            "granularity": granularity,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "buckets": [public(bucket) for bucket in buckets],
            "summary": readmodels.summarise(buckets),
        }
    )
