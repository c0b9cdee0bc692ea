"""Health, Prometheus metrics, the OpenAPI document, and the bridge's state and QR code."""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypeGuard

import qrcode
import qrcode.image.svg
from aiohttp import web
from parley.http import keys, readmodels
from parley.http.errors import NotFound
from parley.http.metrics import CONTENT_TYPE, Exposition
from parley.http.projections_view import projections
from parley.http.responses import json_response
from parley.http.routing import Args
from parley.projections import histogram
from pymongo.errors import PyMongoError

PING_TIMEOUT = 2.0
LAG_DEGRADED = 1_000  # events a projection may trail the log before health says so
MAX_QR_PAYLOAD = 2_000
BREAKER_STATES = ("closed", "open", "half_open")
# Outcome label -> analytics counter.
REPLY_OUTCOMES = {
    "generated": "replies_generated",
    "sent": "replies_sent",
    "failed": "failures",
    "fallback": "fallbacks",
    "withheld": "withheld",
    "manual": "manual",
}


async def _database_check(request: web.Request) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(request.app[keys.DATABASE].command("ping"), PING_TIMEOUT)
    except (PyMongoError, TimeoutError) as exc:
        return {"ok": False, "latency_ms": None, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _bridge_view(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The bridge's state without its QR payload (a login secret: see `bridge_qr`)."""
    if status is None:
        return None
    return {
        "account": status.get("_id", ""),
        "transport": status.get("transport", ""),
        "state": status.get("state", "unknown"),
        "detail": status.get("detail", ""),
        "needs_qr_scan": bool(status.get("qr_code")),
        "breaker": status.get("breaker", ""),
        "updated_at": status.get("updated_at"),
        "stale": bool(status.get("stale")),
    }


async def health(request: web.Request, args: Args) -> web.StreamResponse:
    database = await _database_check(request)
    bridge: dict[str, Any] | None = None
    standing: list[dict[str, Any]] = []
    if database["ok"]:
        try:
            bridge = _bridge_view(
                await readmodels.bridge_status(
                    request.app[keys.DATABASE],
                    request.app[keys.CONFIG].account,
                    request.app[keys.CLOCK](),
                )
            )
            standing = await projections(request)
        except PyMongoError as exc:
            database = {"ok": False, "latency_ms": None, "error": type(exc).__name__}
    degraded = (
        bridge is None
        or bridge["stale"]
        or bridge["state"] != "ready"
        or any(not row["running"] or row["lag"] > LAG_DEGRADED for row in standing)
    )
    status = "down" if not database["ok"] else "degraded" if degraded else "ok"
    return json_response(
        {
            "status": status,
            "database": database,
            "bridge": bridge,
            "projections": standing,
            "pages": request.app[keys.PAGES],
        },
        status=200 if database["ok"] else 503,
    )


async def bridge(request: web.Request, args: Args) -> web.StreamResponse:
    status = await readmodels.bridge_status(
        request.app[keys.DATABASE], request.app[keys.CONFIG].account, request.app[keys.CLOCK]()
    )
    if status is None:
        raise NotFound("no bridge has reported its state yet")
    view = _bridge_view(status)
    return json_response(view)


def _qr_svg(payload: str) -> str:
    image = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return str(image.to_string(encoding="unicode"))


async def bridge_qr(request: web.Request, args: Args) -> web.StreamResponse:
    """The WhatsApp Web login QR code as SVG, while the bridge waits for a scan.

    Whoever scans it logs in as the account, so it is served only to operators.
    """
    status = await readmodels.bridge_status(
        request.app[keys.DATABASE], request.app[keys.CONFIG].account, request.app[keys.CLOCK]()
    )
    payload = status.get("qr_code") if status is not None else None
    if not isinstance(payload, str) or not payload or status is None or status["stale"]:
        raise NotFound("no QR code is waiting to be scanned")
    if len(payload) > MAX_QR_PAYLOAD:
        raise NotFound("the bridge's QR payload is too long to draw")
    svg = await asyncio.to_thread(_qr_svg, payload)
    return web.Response(text=svg, content_type="image/svg+xml")


async def openapi_document(request: web.Request, args: Args) -> web.StreamResponse:
    return json_response(request.app[keys.OPENAPI])


async def metrics(request: web.Request, args: Args) -> web.StreamResponse:
    out = Exposition()
    db = request.app[keys.DATABASE]
    account = request.app[keys.CONFIG].account
    total = await readmodels.analytics_total(db, account) or {}
    labels = {"account": account}
    out.counter(
        "parley_inbound_messages_total",
        "Inbound WhatsApp messages recorded.",
        [(labels, _count(total, "inbound"))],
    )
    out.counter(
        "parley_replies_total",
        "Replies by outcome: generated, sent, failed, fallback (sent while the model "
        "was unavailable) and withheld (no reply by rule).",
        [
            ({**labels, "outcome": outcome}, _count(total, counter))
            for outcome, counter in REPLY_OUTCOMES.items()
        ],
    )
    out.counter(
        "parley_reply_failures_total",
        "Replies that could not be sent.",
        [(labels, _count(total, "failures"))],
    )
    status = await readmodels.bridge_status(db, account, request.app[keys.CLOCK]())
    breaker = status.get("breaker", "") if status else ""
    out.gauge(
        "parley_reply_breaker_state",
        "The reply model's circuit breaker: 1 for its current state.",
        [({**labels, "state": name}, 1 if breaker == name else 0) for name in BREAKER_STATES],
    )
    out.gauge(
        "parley_bridge_up",
        "1 when the bridge reported within 30 seconds and is ready.",
        [(labels, 1 if status and not status["stale"] and status.get("state") == "ready" else 0)],
    )
    standing = await projections(request)
    out.gauge(
        "parley_projection_lag_events",
        "Events in the log that a projection has not applied yet.",
        [({"projection": row["name"]}, row["lag"]) for row in standing],
    )
    out.gauge(
        "parley_projection_position",
        "The last log position a projection applied.",
        [({"projection": row["name"]}, row["position"]) for row in standing],
    )
    out.gauge(
        "parley_projection_running",
        "1 while a projector holds the projection's lease.",
        [({"projection": row["name"]}, 1 if row["running"] else 0) for row in standing],
    )
    counts = total.get("latency_hist")
    if _is_histogram(counts):
        out.histogram(
            "parley_reply_latency_milliseconds",
            "From an inbound message to its reply being sent (fixed buckets; "
            "the read model keeps no sum, so none is given).",
            [(labels, histogram.LATENCY_BOUNDS_MS, counts, None)],
        )
    request.app[keys.REQUEST_METRICS].write(out)
    return web.Response(body=out.text().encode(), headers={"Content-Type": CONTENT_TYPE})


def _is_histogram(counts: object) -> TypeGuard[list[int]]:
    return (
        isinstance(counts, list)
        and len(counts) == len(histogram.LATENCY_BOUNDS_MS) + 1
        and all(isinstance(c, int) and not isinstance(c, bool) for c in counts)
    )


def _count(document: dict[str, Any], name: str) -> int:
    value = document.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
