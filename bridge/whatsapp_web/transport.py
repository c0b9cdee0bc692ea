"""WhatsApp Web in Chromium, driven through Playwright: a `Transport` for a personal account.

How it holds together
* One persistent browser profile per account, `<data>/whatsapp-web/<account>/`, keeps
  WhatsApp Web's session, so a restart needs no new scan. The login QR code, while
  one is needed, is printed as text, written to `qr.png` in that folder and passed
  to the sink in `TransportStatus.qr_code`, again each time WhatsApp rotates it.
* Parley's hook (hook.js, with every WhatsApp Web name from contract.py) is added
  as an init script of the browser context, so every document gets it, a reload
  or a navigation included, and it installs itself once per document. It hands
  events over through one binding exposed on the context, also registered once.
* One dispatcher task handles those events in order: it is the only writer of the
  status and the only caller of the sink. A supervisor task opens the page,
  watches it (crash, close, no answer, stuck loading or reconnecting too long)
  and replaces it after a pause that doubles with each failure in a row.
* Each time the page becomes ready, it is asked for what arrived while nobody was
  listening: messages at or after each chat's floor in the ledger (ledger.py),
  skipping ids already handed on. A message id is never handed on twice in a run,
  nor across runs as long as the ledger file survives.
* A message WhatsApp adds as ciphertext is handed on once, when it becomes readable.
* Parley's own replies are not handed back as inbound messages. A send cut off
  mid-call (a navigation, a crash) may have gone out all the same; a message from
  this account with its exact text, met later in that chat, is taken as its
  receipt rather than as something the owner typed.

Whether an outbound message already went out (`lookup_sent`)
WhatsApp Web picks the id of a message itself, and nothing is added to the text, so
after a crash the only trace of a send is the message in the chat. The answer is:
* SENT when this run sent it (the receipt is remembered by outbound id); otherwise
  when the chat holds a message from this account with exactly the same text, sent
  no earlier than `OutboundMessage.recorded_at` (less a few seconds of clock slack)
  or, without it, within the catch-up window, and not already matched to another
  outbound in this run. A message still in WhatsApp Web's outbox counts: WhatsApp
  sends it by itself.
* NOT_SENT when no such message exists and every message of the chat since then
  was looked at (or the chat does not exist).
* UNKNOWN when the page is not ready or not everything since then could be loaded.
It errs towards SENT: if the owner typed the very same text in that chat from the
phone after the reply was recorded, the reply is taken as sent and not repeated.
A lost duplicate of an identical text costs less than a person getting the same
reply twice, which is what erring the other way would do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from parley.bridge.ports import (
    InboundSink,
    LookupResult,
    OutboundMessage,
    SendReceipt,
    SendRejected,
    SentLookup,
    TransportError,
    TransportState,
    TransportStatus,
    TransportUnavailable,
)
from parley.bridge.whatsapp_web import browser, qr
from parley.bridge.whatsapp_web.config import Timings, WebSettings
from parley.bridge.whatsapp_web.contract import (
    API,
    BINDING,
    LOGOUT_URL_MARK,
    HookTimings,
    SocketState,
    hook_script,
)
from parley.bridge.whatsapp_web.ledger import Ledger
from parley.bridge.whatsapp_web.mapping import BadPayload, delivery_update, inbound_message
from parley.bridge.whatsapp_web.states import read_state
from parley.domain.messages import DeliveryStatus, InboundMessage
from parley.tools.config import ConfigError
from playwright.async_api import BrowserContext, Frame, Page, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

log = logging.getLogger(__name__)

Event = dict[str, Any]
_ANY_PAGE = -1  # events the transport posts to itself: never stale
_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CHAT = re.compile(r"^[\w.:-]{1,128}@(c\.us|g\.us|lid)$")
_MAX_TEXT = 65_536
_CLOCK_SLACK = timedelta(seconds=5)
_ACK_RANK = {DeliveryStatus.SENT: 1, DeliveryStatus.DELIVERED: 2, DeliveryStatus.READ: 3}
_KEEP_ACKS = 10_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Document:
    """What the current document of the page has said so far."""

    def __init__(self) -> None:
        self.version = ""
        self.socket_state = ""
        self.attached = False
        self.broken = False
        self.was_ready = False
        self.qr = ""


class WhatsAppWebTransport:
    name = "whatsapp-web"

    def __init__(
        self,
        settings: WebSettings,
        *,
        account: str,
        data_dir: Path,
        timings: Timings | None = None,
        qr_output: TextIO | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not _ACCOUNT.match(account):
            msg = f"PARLEY_ACCOUNT must be 1-64 letters, digits, '-' or '_', not {account!r}"
            raise ConfigError(msg)
        self.account = account
        self.profile = data_dir / "whatsapp-web" / account
        self.qr_png = self.profile / "qr.png"
        self._settings = settings
        self._timings = timings or Timings()
        self._qr_output = qr_output
        self._clock = clock
        self._status = TransportStatus(TransportState.STOPPED)
        self._sink: InboundSink | None = None
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._generation = 0
        self._events: asyncio.Queue[tuple[int, Event]] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._takeover: asyncio.Task[None] | None = None
        self._stopping = False
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._unsettled_since: float | None = None
        self._progress = False
        self._paired = False
        self._doc = _Document()
        self._ledger = Ledger(None)
        self._acks: OrderedDict[str, int] = OrderedDict()
        self._sent: dict[str, SendReceipt] = {}
        self._claimed: dict[str, str] = {}  # WhatsApp id -> the outbound id it answers
        # Sends cut off mid-call: they may have gone out all the same.
        self._uncertain: dict[str, OutboundMessage] = {}
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._user_agent = settings.user_agent
        self._handlers: dict[str, Callable[[Event], Awaitable[None]]] = {
            "boot": self._on_boot,
            "version": self._on_version,
            "contract": self._on_contract,
            "state": self._on_state,
            "qr": self._on_qr,
            "message": self._on_message,
            "pending": self._on_pending,
            "ack": self._on_ack,
            "logout": self._on_logout,
            "problem": self._on_problem,
            "_opening": self._on_opening,
            "_lost": self._on_lost,
            "_takeover": self._take_over,
        }

    # ------------------------------------------------------------ the port

    @property
    def status(self) -> TransportStatus:
        return self._status

    @property
    def page(self) -> Page | None:
        """The live page, for diagnostics and tests."""
        return self._page

    @property
    def web_version(self) -> str:
        """WhatsApp Web's version marker in the current page, "" before it loads."""
        return self._doc.version

    async def start(self, sink: InboundSink) -> None:
        if self._dispatcher is not None:
            raise TransportError("this WhatsApp Web transport is already started")
        executable = browser.find_chromium(self._settings)
        self.profile.mkdir(parents=True, exist_ok=True)
        self._ledger = Ledger(self.profile / "ledger.json")
        if not self._user_agent:
            self._user_agent = await browser.user_agent_for(executable)
        self._sink = sink
        self._stopping = False
        self._events = asyncio.Queue()  # nothing left over from an earlier run
        self._dispatcher = asyncio.create_task(self._dispatch(), name="whatsapp-web-events")
        await self._set(TransportState.STARTING, "starting Chromium", settled=False)
        try:
            await self._launch(executable)
        except PlaywrightError as error:
            await self.stop()
            raise TransportUnavailable(f"Chromium did not start: {_first_line(error)}") from error
        self._supervisor = asyncio.create_task(self._supervise(), name="whatsapp-web-page")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._supervisor, self._takeover, self._dispatcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._supervisor = self._takeover = self._dispatcher = None
        self._page = None
        if self._context is not None:
            with contextlib.suppress(PlaywrightError):
                await self._context.close()
            self._context = None
        if self._playwright is not None:
            with contextlib.suppress(PlaywrightError):
                await self._playwright.stop()
            self._playwright = None
        await self._set(TransportState.STOPPED, "", settled=True)

    async def send_text(self, message: OutboundMessage) -> SendReceipt:
        _check_outbound(message)
        if message.outbound_id in self._sent:
            return self._sent[message.outbound_id]
        async with self._chat_locks.setdefault(message.chat_id, asyncio.Lock()):
            if message.outbound_id in self._sent:
                return self._sent[message.outbound_id]
            self._require_ready()
            chat = message.chat_id
            if self._settings.mark_read:
                await self._best_effort("markRead", chat)
            typing = self._settings.typing_seconds > 0
            try:
                if typing:
                    await self._best_effort("typing", chat, True)
                    await asyncio.sleep(self._settings.typing_seconds)
                    self._require_ready()  # it may have dropped while "typing"
                quoted = message.quoted_message_id if self._settings.quote_replies else ""
                result = await self._call("send", chat, message.text, quoted)
            except TransportUnavailable:
                self._uncertain[message.outbound_id] = message
                raise
            finally:
                if typing:
                    await self._best_effort("typing", chat, False)
            receipt = _receipt(result)
            self._remember(message.outbound_id, chat, receipt)
            log.info(
                "sent a reply",
                extra={
                    "chat_id": chat,
                    "wa_message_id": receipt.wa_message_id,
                    "outbound_id": message.outbound_id,
                },
            )
            return receipt

    async def lookup_sent(self, message: OutboundMessage) -> SentLookup:
        if message.outbound_id in self._sent:
            return SentLookup(LookupResult.SENT, self._sent[message.outbound_id])
        if self._status.state is not TransportState.READY:
            return SentLookup(LookupResult.UNKNOWN)
        if message.recorded_at is not None:
            since = message.recorded_at - _CLOCK_SLACK
        else:
            since = self._clock() - timedelta(hours=self._settings.catchup_hours)
        try:
            found = await self._call("findSent", message.chat_id, message.text, since.timestamp())
        except TransportError as error:
            log.warning(
                "could not look for a sent message",
                extra={"chat_id": message.chat_id, "outbound_id": message.outbound_id},
                exc_info=error,
            )
            return SentLookup(LookupResult.UNKNOWN)
        if not isinstance(found, dict) or not isinstance(found.get("matches"), list):
            log.warning("the page answered findSent with %r", found)
            return SentLookup(LookupResult.UNKNOWN)
        candidates = []
        for match in found["matches"]:
            try:
                receipt = _receipt(match)
            except TransportUnavailable:
                continue
            if self._claimed.get(receipt.wa_message_id, message.outbound_id) == message.outbound_id:
                candidates.append(receipt)
        if candidates:
            receipt = min(candidates, key=lambda r: r.sent_at)
            self._remember(message.outbound_id, message.chat_id, receipt)
            return SentLookup(LookupResult.SENT, receipt)
        if found.get("complete") is True:
            return SentLookup(LookupResult.NOT_SENT)
        return SentLookup(LookupResult.UNKNOWN)

    # ------------------------------------------------------------ browser and page

    async def _launch(self, executable: str | None = None) -> None:
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        context = await browser.launch(
            self._playwright,
            self.profile,
            self._settings,
            executable=executable or browser.find_chromium(self._settings),
            user_agent=self._user_agent,
        )
        context.on("close", self._on_context_closed)
        await context.expose_binding(BINDING, self._on_binding)
        timings = HookTimings(
            poll_ms=max(10, int(self._timings.page_poll * 1000)),
            contract_grace_ms=int(self._timings.contract_grace * 1000),
        )
        await context.add_init_script(script=hook_script(timings))
        if self._settings.pinned_page is not None:
            await context.route(self._is_start_page, self._serve_pinned_page)
        self._context = context

    def _is_start_page(self, url: str) -> bool:
        return url == self._settings.url

    async def _serve_pinned_page(self, route: Route) -> None:
        pinned = self._settings.pinned_page
        if pinned is None or route.request.resource_type != "document":
            await route.continue_()
            return
        body = await asyncio.to_thread(pinned.read_bytes)
        await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            self._progress = False
            self._post({"type": "_opening", "attempt": failures + 1})
            reason = await self._run_page()
            if self._stopped():
                return
            self._post({"type": "_lost", "reason": reason})
            failures = 0 if self._progress else failures + 1
            delay = self._timings.backoff(failures)
            log.warning("reopening WhatsApp Web", extra={"reason": reason, "after_seconds": delay})
            await asyncio.sleep(delay)

    def _stopped(self) -> bool:
        # A method, so the type checker does not take the flag as unchanged
        # across the await before it.
        return self._stopping

    async def _run_page(self) -> str:
        """Opens the page and watches it; returns why it had to be replaced."""
        try:
            if self._context is None:
                await self._launch()
            return await self._watch(await self._open_page())
        except PlaywrightError as error:
            return f"the browser failed: {_first_line(error)}"
        except TimeoutError:
            return "the browser did not answer in time"
        except ConfigError as error:  # Chromium went away from PATH
            return str(error)
        finally:
            if self._page is not None:  # also a page whose loading failed
                await self._discard(self._page)

    async def _open_page(self) -> Page:
        context = self._context
        assert context is not None
        page = await asyncio.wait_for(context.new_page(), self._timings.navigation_timeout)
        self._generation += 1
        self._page = page
        self._lost.clear()
        self._lost_reason = ""
        self._unsettled_since = time.monotonic()
        page.on("crash", lambda p: self._page_lost(p, "the page crashed"))
        page.on("close", lambda p: self._page_lost(p, "the page was closed"))
        page.on("framenavigated", self._on_navigated)
        for other in context.pages:
            if other is not page:
                await other.close()
        await page.goto(
            self._settings.url,
            wait_until="domcontentloaded",
            timeout=self._timings.navigation_timeout * 1000,
        )
        return page

    async def _discard(self, page: Page) -> None:
        if self._page is page:
            self._page = None
        with contextlib.suppress(PlaywrightError, TimeoutError):
            await asyncio.wait_for(page.close(), self._timings.ping_timeout)

    async def _watch(self, page: Page) -> str:
        """Returns when the page must go: lost, not answering, or stuck."""
        misses = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._timings.watchdog_interval)
            if self._lost.is_set():
                return self._lost_reason
            try:
                await asyncio.wait_for(
                    page.evaluate("() => document.readyState"), self._timings.ping_timeout
                )
                misses = 0
            except TimeoutError:
                misses += 1
                if misses >= 2:
                    return "the page stopped answering"
            except PlaywrightError:
                pass  # a navigation destroyed the context mid-call; look again next time
            since = self._unsettled_since
            limit = self._timings.stuck_after
            if self._status.state is TransportState.AUTHENTICATED:
                limit *= 5  # a large account's first sync takes a while; a reload restarts it
            if since is not None and time.monotonic() - since > limit:
                state = self._status.state.value
                return f"the page was stuck ({state}: {self._status.detail})"

    def _page_lost(self, page: Page, reason: str) -> None:
        if page is self._page and not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    def _on_context_closed(self, context: BrowserContext) -> None:
        if context is self._context:
            self._context = None
            if not self._lost.is_set():
                self._lost_reason = "the browser closed"
                self._lost.set()

    def _on_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is None and LOGOUT_URL_MARK in frame.url:
            self._post({"type": "logout"})

    def _on_binding(self, source: Mapping[str, Any], payload: object) -> None:
        page = self._page
        if page is None:
            return
        main_frame = page.main_frame
        if source.get("page") is not page or source.get("frame") is not main_frame:
            return  # an old page, or a frame inside this one
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            log.warning("the page sent an event of unknown shape: %r", payload)
            return
        if payload["type"].startswith("_"):
            return  # those are the transport's own
        self._events.put_nowait((self._generation, payload))

    def _post(self, event: Event) -> None:
        self._events.put_nowait((_ANY_PAGE, event))

    async def _call(self, name: str, *args: Any) -> Any:
        page = self._page
        if page is None:
            raise TransportUnavailable("WhatsApp Web is not open")
        script = f"(args) => window.{API}.{name}(...args)"
        try:
            return await asyncio.wait_for(
                page.evaluate(script, list(args)), self._timings.call_timeout
            )
        except TimeoutError as error:
            raise TransportUnavailable(f"WhatsApp Web did not answer {name} in time") from error
        except PlaywrightError as error:
            text = str(error)
            if "parley:rejected:" in text:
                reason = text.split("parley:rejected:", 1)[1].splitlines()[0].strip()
                raise SendRejected(reason) from error
            raise TransportUnavailable(
                f"WhatsApp Web could not {name}: {_first_line(error)}"
            ) from error

    async def _best_effort(self, name: str, *args: Any) -> None:
        try:
            await self._call(name, *args)
        except TransportError as error:
            log.warning(
                "WhatsApp Web could not %s",
                name,
                extra={"error": str(error), "call_args": repr(args)},
            )

    def _require_ready(self) -> None:
        if self._status.state is not TransportState.READY or self._page is None:
            detail = f" ({self._status.detail})" if self._status.detail else ""
            raise TransportUnavailable(f"WhatsApp Web is {self._status.state.value}{detail}")

    # ------------------------------------------------------------ events, in order

    async def _dispatch(self) -> None:
        while True:
            generation, event = await self._events.get()
            if generation not in (_ANY_PAGE, self._generation):
                continue  # from a page that has been replaced
            try:
                await self._handle(event)
            except Exception:
                log.exception(
                    "could not handle a WhatsApp Web event", extra={"event": event["type"]}
                )

    async def _handle(self, event: Event) -> None:
        handler = self._handlers.get(event["type"])
        if handler is None:
            log.warning("unknown WhatsApp Web event %r", event["type"])
            return
        await handler(event)

    async def _on_boot(self, event: Event) -> None:
        self._doc = _Document()
        await self._set(TransportState.STARTING, "loading WhatsApp Web", settled=False)

    async def _on_version(self, event: Event) -> None:
        self._doc.version = str(event.get("version", ""))
        log.info("WhatsApp Web loaded", extra={"web_version": self._doc.version})

    async def _on_problem(self, event: Event) -> None:
        log.warning(
            "WhatsApp Web hook: %s", event.get("what"), extra={"detail": event.get("detail")}
        )

    async def _on_opening(self, event: Event) -> None:
        attempt = int(event["attempt"])
        detail = "opening WhatsApp Web" + (f" (attempt {attempt})" if attempt > 1 else "")
        await self._set(TransportState.STARTING, detail, settled=False)

    async def _on_lost(self, event: Event) -> None:
        self._doc = _Document()
        await self._set(TransportState.DISCONNECTED, str(event["reason"]), settled=False)

    async def _on_contract(self, event: Event) -> None:
        missing = event.get("missing") if isinstance(event.get("missing"), dict) else {}
        assert isinstance(missing, dict)
        core = [str(name) for name in missing.get("core") or []]
        for role in ("login", "optional"):
            if names := [str(name) for name in missing.get(role) or []]:
                log.warning(
                    "WhatsApp Web %s lacks %s parts: %s",
                    self._doc.version,
                    role,
                    ", ".join(names),
                    extra={"web_version": self._doc.version},
                )
        if core:
            self._doc.broken = True
            detail = (
                f"WhatsApp Web {self._doc.version} no longer offers what Parley needs: "
                f"missing {', '.join(core)} (update bridge/whatsapp_web/contract.py)"
            )
            log.error(detail, extra={"web_version": self._doc.version, "missing": core})
            await self._set(TransportState.DISCONNECTED, detail, settled=True)
            return
        self._doc.attached = True

    async def _on_state(self, event: Event) -> None:
        if self._doc.broken:
            return
        socket_state, synced = str(event.get("state", "")), bool(event.get("synced"))
        self._doc.socket_state = socket_state
        reading = read_state(socket_state, synced, was_ready=self._doc.was_ready)
        state = reading.state
        if state is TransportState.READY:
            if self._status.state is not TransportState.READY:
                self._doc.was_ready = True
                self._paired = True
                await self._catch_up()
                with contextlib.suppress(FileNotFoundError):
                    self.qr_png.unlink()
                await self._set(
                    TransportState.READY, f"WhatsApp Web {self._doc.version}", settled=True
                )
            return
        if state is TransportState.WAITING_FOR_QR_SCAN:
            await self._on_logout(event)  # only does something if this account was linked
            detail = reading.detail if self._doc.qr else "waiting for the login code"
            await self._set(state, detail, qr_code=self._doc.qr, settled=True)
            return
        if state is TransportState.AUTHENTICATED:
            self._paired = True
        if socket_state == SocketState.CONFLICT and self._settings.takeover_on_conflict:
            self._schedule_takeover()
        await self._set(state, reading.detail, settled=reading.settled)

    async def _on_qr(self, event: Event) -> None:
        code = event.get("code")
        if not isinstance(code, str) or not code or len(code) > 4096:
            log.warning("the page sent a login code of unknown shape")
            return
        if self._doc.socket_state not in ("", SocketState.UNPAIRED, SocketState.UNPAIRED_IDLE):
            return  # a late rotation after the scan
        self._doc.qr = code
        await asyncio.to_thread(qr.write_png, code, self.qr_png)
        output = self._qr_output or sys.stdout
        output.write(
            f"\nWhatsApp Web login for account {self.account!r}: on your phone open WhatsApp, "
            f"Linked devices, Link a device, and scan this code (also in {self.qr_png}):\n\n"
            + qr.terminal_text(code)
        )
        output.flush()
        await self._set(
            TransportState.WAITING_FOR_QR_SCAN,
            "scan the QR code with WhatsApp on your phone (Linked devices)",
            qr_code=code,
            settled=True,
        )

    async def _on_message(self, event: Event) -> None:
        payload = event.get("message")
        if not isinstance(payload, dict):
            log.warning("the page sent a message of unknown shape")
            return
        try:
            message = inbound_message(payload, account=self.account, received_at=self._clock())
        except BadPayload as error:
            log.warning(
                "dropping a message the page handed over malformed",
                extra={"error": str(error), "wa_message_id": str(payload.get("id"))},
            )
            return
        wa_id = message.wa_message_id
        if self._ledger.seen(wa_id) or wa_id in self._claimed:
            return
        if message.from_me and self._adopt(message):
            return
        assert self._sink is not None
        # Recorded only once the sink has it: if the sink fails, the next catch-up
        # offers the message again.
        await self._sink.on_message(message)
        self._ledger.record(wa_id, message.chat_id, message.sent_at.timestamp())

    def _remember(self, outbound_id: str, chat_id: str, receipt: SendReceipt) -> None:
        self._sent[outbound_id] = receipt
        self._claimed[receipt.wa_message_id] = outbound_id
        self._uncertain.pop(outbound_id, None)
        self._ledger.record(receipt.wa_message_id, chat_id, receipt.sent_at.timestamp())

    def _adopt(self, message: InboundMessage) -> bool:
        """Takes a message from this account as the one a cut-off send put out, so
        it is not handed on as if the owner had typed it."""
        for outbound_id, outbound in list(self._uncertain.items()):
            recorded = outbound.recorded_at
            if (
                outbound.chat_id == message.chat_id
                and outbound.text == message.text
                and (recorded is None or message.sent_at >= recorded - _CLOCK_SLACK)
            ):
                receipt = SendReceipt(message.wa_message_id, message.sent_at)
                self._remember(outbound_id, message.chat_id, receipt)
                log.info(
                    "a cut-off send did go out",
                    extra={
                        "chat_id": message.chat_id,
                        "wa_message_id": message.wa_message_id,
                        "outbound_id": outbound_id,
                    },
                )
                return True
        return False

    async def _on_pending(self, event: Event) -> None:
        wa_id, chat, t = event.get("id"), event.get("chat"), event.get("t")
        if isinstance(wa_id, str) and isinstance(chat, str) and isinstance(t, int | float):
            self._ledger.hold(wa_id, chat, float(t))

    async def _on_ack(self, event: Event) -> None:
        try:
            update = delivery_update(event, account=self.account, at=self._clock())
        except BadPayload as error:
            log.warning("dropping an acknowledgement of unknown shape", extra={"error": str(error)})
            return
        if update is None:
            return
        rank = _ACK_RANK.get(update.status, -1)
        before = self._acks.get(update.wa_message_id, 0)
        if (rank <= before and rank != -1) or before == -1:
            return  # a repeat, or older news than what was already reported
        self._acks[update.wa_message_id] = rank
        self._acks.move_to_end(update.wa_message_id)
        while len(self._acks) > _KEEP_ACKS:
            self._acks.popitem(last=False)
        assert self._sink is not None
        await self._sink.on_delivery(update)

    async def _on_logout(self, event: Event) -> None:
        if not self._paired:
            return
        self._paired = False
        self._ledger.reset()
        log.warning("WhatsApp Web logged out", extra={"account": self.account})
        await self._set(
            TransportState.DISCONNECTED,
            "logged out: scan a new QR code to link this account again",
            settled=False,
        )

    async def _catch_up(self) -> None:
        now = self._clock().timestamp()
        first = self._ledger.since is None
        self._ledger.begin(now)
        oldest = now - self._settings.catchup_hours * 3600
        floors = {chat: max(t, oldest) for chat, t in self._ledger.floors(now).items()}
        # WhatsApp stamps whole seconds: a message of the same second as `since`
        # may be newer than it.
        default = max(math.floor(self._ledger.since or now), oldest)
        try:
            events = await self._call("catchUp", floors, default)
        except TransportError as error:
            log.warning("could not catch up", extra={"error": str(error)})
            return
        if not isinstance(events, list):
            log.warning("the page answered catchUp with %r", type(events).__name__)
            return
        for event in events:
            if not isinstance(event, dict) or event.get("type") not in ("message", "pending"):
                continue
            if first and self._is_history(event):
                continue
            await self._handle(event)
        log.info("caught up", extra={"looked_at": len(events), "first": first})

    def _is_history(self, event: Event) -> bool:
        """On the first ready of an account, what the page already held (and not as a
        new arrival) is history: noted as seen, never handed on."""
        body = event.get("message") if event["type"] == "message" else event
        if not isinstance(body, dict) or body.get("isNew") is True:
            return False
        wa_id, chat, t = body.get("id"), body.get("chat"), body.get("t")
        if isinstance(wa_id, str) and isinstance(chat, str) and isinstance(t, int | float):
            self._ledger.record(wa_id, chat, float(t))
        return True

    def _schedule_takeover(self) -> None:
        if self._takeover is not None and not self._takeover.done():
            return

        async def later() -> None:
            await asyncio.sleep(self._timings.takeover_delay)
            self._post({"type": "_takeover"})

        self._takeover = asyncio.create_task(later(), name="whatsapp-web-takeover")

    async def _take_over(self, event: Event) -> None:
        if self._doc.socket_state != SocketState.CONFLICT:
            return
        log.warning("taking the WhatsApp Web session back from another browser")
        try:
            await self._call("takeover")
        except TransportError as error:
            log.warning("could not take the session back", extra={"error": str(error)})

    async def _set(
        self, state: TransportState, detail: str, *, qr_code: str = "", settled: bool
    ) -> None:
        if settled:
            self._unsettled_since = None
        elif self._unsettled_since is None or state is not self._status.state:
            self._unsettled_since = time.monotonic()
        if state in (TransportState.READY, TransportState.WAITING_FOR_QR_SCAN):
            self._progress = True
        status = TransportStatus(state, detail, qr_code)
        if status == self._status:
            return
        self._status = status
        log.info(
            "WhatsApp Web is %s",
            state.value,
            extra={"account": self.account, "state": state.value, "detail": detail},
        )
        if self._sink is not None:
            try:
                await self._sink.on_status(status)
            except Exception:
                log.exception("the sink failed on a status change")


def _check_outbound(message: OutboundMessage) -> None:
    if not message.outbound_id:
        raise SendRejected("the outbound message has no outbound_id")
    if not _CHAT.match(message.chat_id):
        raise SendRejected(f"not a WhatsApp chat id: {message.chat_id!r}")
    if not message.text.strip():
        raise SendRejected("the reply is empty")
    if len(message.text) > _MAX_TEXT:
        raise SendRejected(f"the reply is {len(message.text)} characters; at most {_MAX_TEXT}")


def _receipt(result: object) -> SendReceipt:
    if not isinstance(result, dict):
        raise TransportUnavailable(f"WhatsApp Web answered a send with {result!r}")
    wa_id, t = result.get("id"), result.get("t")
    if not isinstance(wa_id, str) or not wa_id or not isinstance(t, int | float) or t <= 0:
        raise TransportUnavailable(f"WhatsApp Web answered a send with {result!r}")
    return SendReceipt(wa_message_id=wa_id, sent_at=datetime.fromtimestamp(t, UTC))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
