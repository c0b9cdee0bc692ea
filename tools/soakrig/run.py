"""One soak run, start to finish: database, fake model, fake Meta, the Parley
processes, traffic at a set rate, faults, settling, a graceful stop of everything,
then reconciliation and the figures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from parley.eventstore.embedded import free_port
from parley.tools.soakrig import baseline
from parley.tools.soakrig.baseline import ServerBaseline
from parley.tools.soakrig.config import SoakConfig
from parley.tools.soakrig.database import SoakDatabase
from parley.tools.soakrig.faults import Fault, plan_faults, run_faults
from parley.tools.soakrig.logwatch import LogPicture, LogWatcher
from parley.tools.soakrig.meta import (
    ACCESS_TOKEN,
    API_VERSION,
    APP_SECRET,
    VERIFY_TOKEN,
    FakeGraph,
    PostStats,
    WebhookPoster,
)
from parley.tools.soakrig.monitor import Monitor, Observations
from parley.tools.soakrig.processes import Child, tail
from parley.tools.soakrig.readmodels import ReadModelCheck, compare_with_rebuild
from parley.tools.soakrig.reconcile import Reconciliation, reconcile
from parley.tools.soakrig.traffic import PHONE_NUMBER_ID, Planned, plan
from pymongo import MongoClient
from pymongo.database import Database

log = logging.getLogger(__name__)

DATABASE = "soak"
STOP_GRACE = 45.0  # seconds a process may take to stop on SIGTERM
READY_TIMEOUT = 90.0
STATUS_WORKERS = 8
PROJECTIONS = ("threads", "messages", "contacts", "context", "analytics")


@dataclass
class Stopped:
    exit_code: int | None
    seconds: float
    problems: list[str] = field(default_factory=list)


@dataclass
class SoakResult:
    config: SoakConfig
    plan: list[Planned]
    work_dir: Path
    first_post: dict[str, float] = field(default_factory=dict)  # wamid -> monotonic
    accepted_at: dict[str, float] = field(default_factory=dict)  # first 200, monotonic
    traffic_started: float = 0.0
    traffic_ended: float = 0.0  # when the last message was first posted
    deliveries_done: float = 0.0  # when every delivery had its 200
    settled_after: float | None = None  # seconds after the traffic ended
    inbound_posts: PostStats = field(default_factory=PostStats)
    status_posts: PostStats = field(default_factory=PostStats)
    graph: FakeGraph | None = None
    faults: list[Fault] = field(default_factory=list)
    seen: Observations = field(default_factory=Observations)
    unexpected_exits: list[str] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    shutdown: dict[str, Stopped] = field(default_factory=dict)
    reconciliation: Reconciliation | None = None
    picture: LogPicture | None = None  # the log as read from position 1 at the end
    read_models: ReadModelCheck | None = None
    gemini_stats: dict[str, Any] = field(default_factory=dict)
    baseline: ServerBaseline | None = None
    processes_run: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and not self.unexpected_exits
            and all(not f.problems for f in self.faults)
            and all(not s.problems for s in self.shutdown.values())
            and self.reconciliation is not None
            and self.reconciliation.ok
            and (self.read_models is None or self.read_models.ok)
        )


def projections_installed() -> bool:
    try:
        import parley.projections.registry  # noqa: F401
    except ImportError:
        return False
    return True


def api_installed() -> bool:
    try:
        import parley.http.app  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def work_folder(config: SoakConfig) -> Iterator[Path]:
    if config.work_dir is not None:
        config.work_dir.mkdir(parents=True, exist_ok=True)
        yield config.work_dir
        return
    path = Path(tempfile.mkdtemp(prefix="parley-soak-"))
    try:
        yield path
    finally:
        if not config.keep_work_dir:
            shutil.rmtree(path, ignore_errors=True)


def child_env(config: SoakConfig, **values: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PARLEY_") and key not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    }
    env.update(values)
    env.update(config.extra_env)
    return env


class Soak:
    """The harness's state during one run."""

    def __init__(self, config: SoakConfig, work: Path) -> None:
        self.config = config
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run_id = secrets.token_hex(4)
        self.result = SoakResult(config, plan(config, self.run_id), work)
        self.database = SoakDatabase(work / "data")
        self.graph = FakeGraph(PHONE_NUMBER_ID)
        self.result.graph = self.graph
        self.children: dict[str, Child] = {}
        self.held: set[str] = set()  # children a fault is handling: not supervised
        self.stop_supervising = asyncio.Event()
        self.webhook_url = ""
        self.health_url: str | None = None
        self.gemini_url = ""
        self.session: aiohttp.ClientSession | None = None
        self.client: MongoClient[dict[str, Any]] | None = None
        self.db: Database[dict[str, Any]] | None = None
        self.watcher: LogWatcher | None = None
        self.delivered: set[str] = set()
        self.statuses_in_hand = 0  # status webhooks queued or being posted

    # ---------------------------------------------------------------- set-up

    async def start(self) -> None:
        config = self.config
        uri = await asyncio.to_thread(self.database.start)
        self.result.baseline = await asyncio.to_thread(baseline.measure, uri)
        self.client = MongoClient(uri, uuidRepresentation="standard", tz_aware=True)
        self.db = self.client[DATABASE]
        self.watcher = LogWatcher(self.db)
        graph_url = await self.graph.start()
        gemini_port, webhook_port, api_port = free_port(), free_port(), free_port()
        self.gemini_url = f"http://127.0.0.1:{gemini_port}"
        self.webhook_url = f"http://127.0.0.1:{webhook_port}/webhook"
        env = child_env(
            config,
            PARLEY_MONGODB_URI=uri,
            PARLEY_DATABASE=DATABASE,
            PARLEY_DATA_DIR=str(self.work / "parley"),
            PARLEY_LOG_LEVEL=config.log_level,
            PARLEY_TRANSPORT="cloud",
            PARLEY_ACCOUNT="default",
            PARLEY_CLOUD_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
            PARLEY_CLOUD_ACCESS_TOKEN=ACCESS_TOKEN,
            PARLEY_CLOUD_APP_SECRET=APP_SECRET,
            PARLEY_CLOUD_VERIFY_TOKEN=VERIFY_TOKEN,
            PARLEY_CLOUD_GRAPH_URL=graph_url,
            PARLEY_CLOUD_API_VERSION=API_VERSION,
            PARLEY_CLOUD_WEBHOOK_PORT=str(webhook_port),
            GEMINI_API_KEY="soak-fake-gemini-key",
            PARLEY_GEMINI_BASE_URL=self.gemini_url,
            # Every message of the run must be answered: no rate guard, no quiet hours.
            PARLEY_REPLY_RATE="1000000/600",
            PARLEY_QUIET_HOURS="none",
            PARLEY_API_PORT=str(api_port),
            PARLEY_API_TOKENS="soak-api-token-" + secrets.token_hex(8),
        )
        gemini = Child(
            "fake-gemini",
            [
                sys.executable,
                *("-m", "parley.tools.fake_gemini"),
                *("--port", str(gemini_port)),
                *("--latency-ms", str(config.model_latency_ms)),
                *("--error-rate", str(config.model_error_rate)),
                *("--seed", str(config.seed)),
            ],
            env,
            self.work,
            self.logs / "fake-gemini.log",
        )
        self.children["fake-gemini"] = gemini
        self.children["bridge"] = Child.parley("bridge", env, self.work, self.logs)
        if projections_installed() and "projector" not in config.without:
            self.children["projector"] = Child.parley("projector", env, self.work, self.logs)
        if api_installed() and "api" not in config.without:
            self.children["api"] = Child.parley("api", env, self.work, self.logs)
            self.health_url = f"http://127.0.0.1:{api_port}/api/v1/health"
        self.result.processes_run = tuple(n for n in self.children if n != "fake-gemini")
        self.session = aiohttp.ClientSession()
        for child in self.children.values():
            child.start()
        for name in self.children:
            await self.wait_ready(name)

    async def wait_ready(self, name: str, within: float = READY_TIMEOUT) -> None:
        """Waits for a child to answer (or, for the projector, just to be running)."""
        child = self.children[name]
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not child.running():
                msg = f"{name} exited while starting:\n{tail(child.log_path)}"
                raise RuntimeError(msg)
            if await self._answers(name):
                return
            await asyncio.sleep(0.2)
        msg = f"{name} did not become ready within {within:.0f}s:\n{tail(child.log_path)}"
        raise RuntimeError(msg)

    async def _answers(self, name: str) -> bool:
        assert self.session is not None
        if name == "projector":
            return True
        if name == "bridge":
            url = self.webhook_url
            params = {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1",
            }
        elif name == "api":
            assert self.health_url is not None
            url, params = self.health_url, {}
        else:
            url, params = f"{self.gemini_url}/_fake/stats", {}
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with self.session.get(
                url, params=params, timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return response.status in (200, 503) if name == "api" else response.status == 200
        return False

    # ------------------------------------------------------------- supervising

    async def supervise(self) -> None:
        """Restarts a process that exits without being asked, noting it: a Parley
        process that dies on its own did not ride out what happened."""
        while not self.stop_supervising.is_set():
            for name, child in self.children.items():
                if name in self.held:
                    continue
                ended = child.reap()
                if ended is None:
                    continue
                at = ended.ended - self.result.traffic_started if ended.ended else 0.0
                self.result.unexpected_exits.append(
                    f"{name} exited on its own with code {ended.exit_code} at {at:.1f}s: "
                    + tail(child.log_path, 3).replace("\n", " | ")[-600:]
                )
                log.error("process exited on its own", extra={"child": name})
                await asyncio.sleep(1.0)
                child.start()
                self.result.restarts[name] = self.result.restarts.get(name, 0) + 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_supervising.wait(), 0.25)

    # ----------------------------------------------------------------- traffic

    async def drive(self, poster: WebhookPoster) -> None:
        started = self.result.traffic_started
        tasks: list[asyncio.Task[None]] = []
        for item in self.result.plan:
            delay = started + item.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._deliver(poster, item)))
        self.result.traffic_ended = time.monotonic()
        await asyncio.gather(*tasks)
        self.result.deliveries_done = time.monotonic()

    async def _deliver(self, poster: WebhookPoster, item: Planned) -> None:
        body = item.body()
        self.result.first_post[item.wamid] = time.monotonic()

        async def first() -> bool:
            accepted = await poster.deliver(body, item.wamid)
            if accepted:
                self.result.accepted_at.setdefault(item.wamid, time.monotonic())
            return accepted

        async def late_copy() -> bool:
            await asyncio.sleep(item.late_copy_after)
            return await poster.deliver(body, f"{item.wamid} (late copy)")

        copies = [first()]
        if item.copies >= 2:
            copies.append(poster.deliver(body, f"{item.wamid} (copy)"))
        if item.copies >= 3:
            copies.append(late_copy())
        if any(await asyncio.gather(*copies)):
            self.delivered.add(item.wamid)

    async def post_statuses(self, queue: asyncio.Queue[bytes], poster: WebhookPoster) -> None:
        while True:
            body = await queue.get()
            try:
                await poster.deliver(body, "status")
            finally:
                self.statuses_in_hand -= 1

    def queue_status(self, queue: asyncio.Queue[bytes], body: bytes) -> None:
        self.statuses_in_hand += 1
        queue.put_nowait(body)

    # ------------------------------------------------------------------ faults

    async def kill(self, fault: Fault) -> None:
        child = self.children[fault.target]
        self.held.add(fault.target)
        try:
            child.kill()
            await asyncio.sleep(0.5)
            child.start()
            await self.wait_ready(fault.target)
            fault.outcome = "killed, restarted and answering"
        finally:
            self.held.discard(fault.target)

    async def sigterm(self, fault: Fault) -> None:
        self.held.add(fault.target)
        try:
            stopped = await self.stop_gracefully(fault.target)
            fault.problems.extend(stopped.problems)
            fault.outcome = f"exit code {stopped.exit_code} after {stopped.seconds:.1f}s"
            self.children[fault.target].start()
            await self.wait_ready(fault.target)
        finally:
            self.held.discard(fault.target)

    async def db_outage(self, fault: Fault) -> None:
        await self.database.outage(self.config.db_outage_s)
        fault.outcome = (
            f"down for {self.config.db_outage_s:.0f}s, back on port {self.database.port}"
        )

    async def gemini_outage(self, fault: Fault) -> None:
        assert self.session is not None
        seconds = self.config.gemini_outage_s
        async with self.session.post(
            f"{self.gemini_url}/_fake/outage", json={"seconds": seconds}
        ) as response:
            response.raise_for_status()
        await asyncio.sleep(seconds)
        fault.outcome = f"every model call failed for {seconds:.0f}s"

    async def stop_gracefully(self, name: str) -> Stopped:
        """SIGTERM one process and check that it stopped cleanly, losing nothing."""
        child = self.children[name]
        incarnation = child.incarnations[-1] if child.incarnations else None
        code, seconds = await child.terminate(STOP_GRACE)
        stopped = Stopped(code, seconds)
        if code is None:
            stopped.problems.append(f"{name} did not stop within {STOP_GRACE:.0f}s of SIGTERM")
        elif code != 0:
            stopped.problems.append(
                f"{name} exited with code {code} on SIGTERM: "
                + tail(child.log_path, 3).replace("\n", " | ")[-600:]
            )
        if name == "bridge" and incarnation is not None:
            half = await asyncio.to_thread(self.half_recorded, incarnation.started)
            if half:
                stopped.problems.append(
                    f"half-recorded after the bridge stopped: {len(half)} ({', '.join(half[:5])})"
                )
        return stopped

    def half_recorded(self, since: float) -> list[str]:
        """Replies this bridge incarnation sent (or began to send) that the log does
        not record as sent or failed: what a clean stop must never leave."""
        assert self.watcher is not None
        assert self.db is not None
        self.watcher.advance()
        picture = self.watcher.picture
        found = [
            f"{outbound} (at the Graph API, not recorded)"
            for outbound, sends in self.graph.sends.items()
            if sends[0].at >= since
            and outbound not in picture.sent
            and outbound not in picture.failed
        ]
        started_wall = time.time() - (time.monotonic() - since)
        for record in self.db["cloud_api_sends"].find(
            {"state": "pending"}, {"_id": 1, "started_at": 1}
        ):
            started_at = record.get("started_at")
            if started_at is not None and started_at.timestamp() >= started_wall - 1:
                found.append(f"{record['_id']} (send left pending)")
        return found

    # ---------------------------------------------------------------- settling

    async def settle(self, monitor: Monitor, status_queue: asyncio.Queue[bytes]) -> None:
        """Waits until every delivered message has its outcome, the statuses are
        posted and the read models have caught up with the log."""
        assert self.watcher is not None
        deadline = time.monotonic() + self.config.settle_timeout_s
        while time.monotonic() < deadline:
            picture = self.watcher.picture
            recorded = self.delivered <= set(picture.received) and picture.unsettled() == 0
            statuses_posted = status_queue.empty() and self.statuses_in_hand == 0
            lag = monitor.seen.lag[-1] if monitor.seen.lag else None
            caught_up = not monitor.projections or (
                lag is not None and lag.position >= lag.head == picture.position
            )
            if recorded and statuses_posted and caught_up:
                self.result.settled_after = time.monotonic() - self.result.traffic_ended
                return
            await asyncio.sleep(0.5)
        picture = self.watcher.picture
        self.result.problems.append(
            f"did not settle within {self.config.settle_timeout_s:.0f}s after the traffic: "
            f"{len(self.delivered - set(picture.received))} delivered but unrecorded, "
            f"{picture.unsettled()} recorded without an outcome"
        )

    # ---------------------------------------------------------------- the run

    async def run(self) -> SoakResult:
        result = self.result
        config = self.config
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        assert self.session is not None
        assert self.db is not None
        assert self.watcher is not None
        poster = WebhookPoster(self.session, self.webhook_url)
        status_poster = WebhookPoster(self.session, self.webhook_url)
        result.inbound_posts, result.status_posts = poster.stats, status_poster.stats
        status_queue: asyncio.Queue[bytes] = asyncio.Queue()
        if config.status_webhooks:
            self.graph.post_statuses_to(lambda body: self.queue_status(status_queue, body))
        monitor = Monitor(
            db=self.db,
            watcher=self.watcher,
            pids=self.pids,
            projections=PROJECTIONS if "projector" in self.children else (),
            health_url=self.health_url,
            session=self.session,
        )
        result.seen = monitor.seen
        stop_monitor = asyncio.Event()
        stop_faults = asyncio.Event()
        targets = tuple(n for n in ("bridge", "projector", "api") if n in self.children)
        result.faults = plan_faults(config, targets)
        actions = {
            "kill": self.kill,
            "sigterm": self.sigterm,
            "db_outage": self.db_outage,
            "gemini_outage": self.gemini_outage,
        }
        background = [
            asyncio.create_task(monitor.run(stop_monitor)),
            asyncio.create_task(self.supervise()),
            *(
                asyncio.create_task(self.post_statuses(status_queue, status_poster))
                for _ in range(STATUS_WORKERS)
            ),
        ]
        try:
            monitor.sample_memory()  # the CPU counters as the traffic starts
            result.traffic_started = time.monotonic()
            faults = asyncio.create_task(
                run_faults(result.faults, actions, result.traffic_started, stop_faults)
            )
            await self.drive(poster)
            await faults
            await self.settle(monitor, status_queue)
            stop_monitor.set()
            self.stop_supervising.set()
            await asyncio.gather(*background[:2])
            for name in ("bridge", "projector", "api"):
                if name in self.children:
                    result.shutdown[name] = await self.stop_gracefully(name)
            await self.collect_gemini_stats()
            await self.reconcile()
        finally:
            poster.stopping.set()
            status_poster.stopping.set()
            stop_monitor.set()
            stop_faults.set()
            self.stop_supervising.set()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self.close()
        return result

    def pids(self) -> dict[str, int | None]:
        found: dict[str, int | None] = {
            name: child.pid if child.running() else None for name, child in self.children.items()
        }
        found["database"] = self.database.pid
        return found

    async def collect_gemini_stats(self) -> None:
        assert self.session is not None
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with self.session.get(f"{self.gemini_url}/_fake/stats") as response:
                self.result.gemini_stats = await response.json()

    async def reconcile(self) -> None:
        assert self.db is not None
        fresh = LogWatcher(self.db)
        await asyncio.to_thread(fresh.advance)
        faults_seen = {f.label for f in self.result.faults if f.started is not None}
        self.result.reconciliation = reconcile(
            plan=self.result.plan,
            delivered=self.delivered,
            picture=fresh.picture,
            sends=self.graph.sends,
            sends_without_id=len(self.graph.without_id),
            faults_seen=faults_seen,
        )
        self.watcher = fresh
        self.result.picture = fresh.picture
        if "projector" in self.children:
            self.result.read_models = await asyncio.to_thread(
                compare_with_rebuild, self.database.uri, DATABASE
            )

    async def close(self) -> None:
        for child in self.children.values():
            if child.running():
                with contextlib.suppress(Exception):
                    await child.terminate(10.0)
            child.close()
        if self.session is not None:
            await self.session.close()
        await self.graph.stop()
        if self.client is not None:
            self.client.close()
        await asyncio.to_thread(self.database.stop)


async def run_soak(config: SoakConfig) -> SoakResult:
    """Runs the whole soak and returns what it found (see `SoakResult.ok`)."""
    with work_folder(config) as work:
        return await Soak(config, work).run()
