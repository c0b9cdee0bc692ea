"""`parley bridge`: one WhatsApp transport, the intake and the reply process.

Start-up: database, write side, persona, reply model, transport. Shutdown on
SIGTERM or SIGINT, in the order that loses nothing: stop answering (in-flight
replies finish, or are left for the next start), then disconnect the transport,
then the rest.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import signal
from datetime import UTC, datetime
from typing import Any

from parley.bridge.context import AggregateContextSource
from parley.bridge.intake import Intake
from parley.bridge.outbound_webhooks import OutboundWebhookDispatcher
from parley.bridge.outbound_webhooks import from_env as webhooks_from_env
from parley.bridge.ports import ContextSource, Transport
from parley.bridge.replies.config import from_env as gemini_from_env
from parley.bridge.replies.factory import build_reply_model
from parley.bridge.reply_process import ReplyProcess
from parley.bridge.settings import from_env as bridge_from_env
from parley.bridge.status import BridgeStatusWriter
from parley.bridge.sweeper import ThreadSweeper
from parley.domain.application import ParleyApp
from parley.domain.cache_keeper import CacheKeeper
from parley.domain.profiles import PersonaProfile
from parley.eventstore.connection import database_uri, open_client
from parley.eventstore.factory import factory_settings
from parley.projections.context_source import ReadModelContextSource
from parley.tools.config import ConfigError, Settings
from pymongo.database import Database

log = logging.getLogger("parley.bridge")


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_transport(
    settings: Settings, db: Database[dict[str, Any]]
) -> tuple[Transport, Any | None]:
    """The configured transport, and for the Cloud API its webhook application."""
    if settings.transport == "web":
        from parley.bridge.whatsapp_web import WhatsAppWebTransport
        from parley.bridge.whatsapp_web import from_env as web_from_env

        transport = WhatsAppWebTransport(
            web_from_env(settings.environ), account=settings.account, data_dir=settings.data_dir
        )
        return transport, None
    if settings.transport == "cloud":
        from parley.bridge.cloud_api import CloudApiTransport, create_webhook_app
        from parley.bridge.cloud_api import from_env as cloud_from_env

        config = cloud_from_env(settings.environ)
        cloud = CloudApiTransport(config, db, account=settings.account)
        return cloud, create_webhook_app(cloud)
    from parley.bridge.simulator import SimulatorTransport

    return SimulatorTransport(db, account=settings.account), None


def context_source(
    app: ParleyApp,
    db: Database[dict[str, Any]],
    settings: Settings,
    persona: PersonaProfile | None,
) -> ContextSource:
    """The context projection's one-read source (PARLEY_CONTEXT_SOURCE=read_model,
    the default), or the aggregates themselves (=aggregates: no projector needed)."""
    choice = settings.environ.get("PARLEY_CONTEXT_SOURCE", "read_model").strip()
    if choice == "aggregates":
        return AggregateContextSource(app, settings.timezone)
    if choice != "read_model":
        msg = f"PARLEY_CONTEXT_SOURCE must be read_model or aggregates, not {choice!r}"
        raise ConfigError(msg)
    return ReadModelContextSource(
        db, persona or PersonaProfile(), timezone=settings.timezone, app=app
    )


async def run_bridge(settings: Settings) -> int:
    loop = asyncio.get_running_loop()
    # A stop asked for while starting up is honoured once started, cleanly: the
    # default action would end the process at once, with nothing shut down.
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Every database call runs in a thread: give them enough threads.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=48))
    bridge_settings = bridge_from_env(settings.environ, settings.timezone)
    uri = await asyncio.to_thread(database_uri, settings.data_dir, settings.mongodb_uri)
    client = await asyncio.to_thread(open_client, uri)
    db = client[settings.database]
    app = ParleyApp(
        env=factory_settings(uri, settings.database, MONGODB_LOG=settings.log_name),
        rules=bridge_settings.rules,
    )
    if bridge_settings.persona is not None:
        await asyncio.to_thread(
            app.set_persona, settings.account, bridge_settings.persona, "persona file", utc_now()
        )
    model = build_reply_model(gemini_from_env(settings.environ))
    transport, webhook_app = build_transport(settings, db)
    process = ReplyProcess(
        app=app,
        model=model,
        transport=transport,
        context_source=context_source(app, db, settings, bridge_settings.persona),
        settings=bridge_settings.reply,
    )
    breaker = getattr(model, "breaker", None)
    status = BridgeStatusWriter(
        db,
        settings.account,
        transport.name,
        breaker_state=lambda: str(getattr(breaker.state, "value", "")) if breaker else "",
    )
    intake = Intake(app, on_recorded=process.nudge, on_status=status.update)  # type: ignore[arg-type]
    sweeper = ThreadSweeper(app, db, utc_now)
    dispatcher = OutboundWebhookDispatcher(
        app.event_log, db, configured=webhooks_from_env(settings.environ)
    )

    background: list[asyncio.Task[None]] = []
    webhook_runner = None
    keeper = CacheKeeper(app, follow=bridge_settings.cache_follows_log)
    await asyncio.to_thread(keeper.start)
    try:
        await transport.start(intake)
        if webhook_app is not None:
            from parley.bridge.cloud_api import start_webhook_site

            config = transport.config  # type: ignore[attr-defined]
            webhook_runner, port = await start_webhook_site(
                webhook_app, config.webhook_host, config.webhook_port
            )
            log.info("cloud api webhook listening", extra={"port": port})
        await dispatcher.start()
        background = [
            asyncio.create_task(status.heartbeat(stop)),
            asyncio.create_task(sweeper.run(stop)),
        ]
        log.info(
            "bridge running",
            extra={"transport": transport.name, "account": settings.account, "model": model.name},
        )
        await process.run(stop)
    finally:
        stop.set()
        if webhook_runner is not None:
            await webhook_runner.cleanup()
        with contextlib.suppress(Exception):
            await transport.stop()
        with contextlib.suppress(Exception):
            await dispatcher.stop()
        await asyncio.gather(*background, return_exceptions=True)
        await model.aclose()
        await asyncio.to_thread(keeper.stop)
        app.close()
        client.close()
        log.info("bridge stopped")
    return 0


def bridge_command(settings: Settings) -> int:
    return asyncio.run(run_bridge(settings))
