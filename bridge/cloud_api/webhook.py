"""The webhook Meta calls: the GET verification handshake and signed POSTs.

Every POST is checked against `X-Hub-Signature-256` over the raw body before
anything else is read. A verified body is parsed, handed to the transport (which
records the chat's window and passes each item to the sink) and answered at
once: Meta retries slow or failed webhooks, and the intake drops the duplicates
by WhatsApp message id.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import orjson
from aiohttp import web
from eventsourcing.persistence import PersistenceError
from parley.bridge.cloud_api.payloads import PayloadError, parse_notification
from parley.bridge.cloud_api.signature import SignatureCheck, check_signature
from parley.bridge.cloud_api.transport import CloudApiTransport
from parley.bridge.ports import TransportUnavailable
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

TRANSPORT = web.AppKey("cloud_api_transport", CloudApiTransport)
MAX_BODY = 1024 * 1024  # Meta's notifications are a few kilobytes
MAX_CHALLENGE = 256


def create_webhook_app(transport: CloudApiTransport) -> web.Application:
    """The webhook as an aiohttp application, served at the configured path.
    Serve it alone (see `start_webhook_site`) or mount it with `add_subapp`."""
    app = web.Application(client_max_size=MAX_BODY)
    app[TRANSPORT] = transport
    path = transport.config.webhook_path
    app.router.add_get(path, verify_subscription)
    app.router.add_post(path, receive_notification)
    return app


async def start_webhook_site(
    app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serves `app` on host:port (0 picks a free port); returns the runner, to
    `cleanup()` on shutdown, and the port it listens on."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])


async def verify_subscription(request: web.Request) -> web.StreamResponse:
    transport = request.app[TRANSPORT]
    mode = request.query.get("hub.mode")
    token = request.query.get("hub.verify_token")
    challenge = request.query.get("hub.challenge")
    if mode is None or token is None or challenge is None:
        return _error(400, "expected hub.mode, hub.verify_token and hub.challenge")
    if mode != "subscribe" or len(challenge) > MAX_CHALLENGE:
        return _error(400, "hub.mode must be 'subscribe' with a short hub.challenge")
    expected = transport.config.verify_token.encode()
    if not hmac.compare_digest(expected, token.encode("utf-8", "replace")):
        log.warning("webhook verification refused: wrong verify token", extra=_peer(request))
        return _error(403, "verify token does not match")
    log.info("webhook verified by Meta", extra=_peer(request))
    return web.Response(text=challenge, content_type="text/plain")


async def receive_notification(request: web.Request) -> web.StreamResponse:
    transport = request.app[TRANSPORT]
    body = await request.read()
    check = check_signature(
        transport.config.app_secret, body, request.headers.get("X-Hub-Signature-256")
    )
    if check is not SignatureCheck.VALID:
        log.warning(
            "webhook POST refused: bad signature",
            extra={**_peer(request), "reason": check.value, "bytes": len(body)},
        )
        if check is SignatureCheck.MISSING:
            return _error(401, "X-Hub-Signature-256 header missing or malformed")
        return _error(403, "X-Hub-Signature-256 does not match the body")
    document = _json(body)
    if document is None:
        return _error(400, "body is not JSON")
    try:
        batch = parse_notification(
            document,
            account=transport.account,
            phone_number_id=transport.config.phone_number_id,
            received_at=transport.clock(),
        )
    except PayloadError as exc:
        log.warning("webhook POST refused: not a notification", extra={"error": str(exc)})
        return _error(400, str(exc))
    try:
        handed_over = await transport.receive(batch)
    except TransportUnavailable as exc:
        return _error(503, str(exc))
    except TimeoutError:
        log.warning("webhook sink too slow; Meta will retry", extra=_peer(request))
        return _error(503, "busy; retry later")
    except (PersistenceError, PyMongoError) as exc:
        # The database is away (restarting, failing over): not our bug, and Meta
        # retries; what was recorded stays recorded, the rest comes again.
        log.warning("webhook not recorded: database unavailable", extra={"error": str(exc)})
        return _error(503, "database unavailable; retry later")
    except Exception:
        log.exception("webhook delivery failed", extra=_peer(request))
        return _error(500, "internal error; retry later")
    answer = {
        "accepted": handed_over,
        "messages": len(batch.messages),
        "statuses": len(batch.statuses),
        "skipped": len(batch.skipped),
    }
    if batch.problems:
        log.warning(
            "webhook POST had unreadable items",
            extra={"problems": batch.problems[:20], "accepted": handed_over},
        )
        return web.json_response(
            {"error": "some items could not be read", "problems": batch.problems[:50], **answer},
            status=400,
        )
    return web.json_response(answer)


def _json(body: bytes) -> Any | None:
    """The decoded body, or None when it is not JSON.

    orjson refuses escapes of lone UTF-16 surrogates (`"\\ud800"`), which are valid
    JSON and which WhatsApp does send when a client cut an emoji in half. Such a
    body is read by the standard library instead; the intake replaces the lone
    surrogates before anything is stored. Refusing it would make Meta retry the
    same body forever, and the message would never be recorded.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except ValueError:  # also UnicodeDecodeError: bytes that are not UTF-8
        return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _peer(request: web.Request) -> dict[str, str]:
    return {"remote": request.remote or ""}
