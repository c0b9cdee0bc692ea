"""The faults of a soak run: planned at random moments (seeded), one at a time, each
followed by the checks that say whether the system rode it out.

* kill (bridge, projector, api): SIGKILL, then a restart at once, as a supervisor
  would. Must hold: nothing lost, no reply sent twice.
* sigterm (each process): SIGTERM, wait, restart. Must hold: it exits 0 in time,
  and after the bridge exits every reply the Graph API took is recorded as sent
  (nothing half-recorded, no send left pending).
* db_outage: the database stopped, then started on the same port. Must hold: no
  Parley process exits, and all carry on.
* gemini_outage: the fake model fails every request for a while. Must hold: the
  breaker opens, fallbacks are sent and recorded.

Duplicated deliveries and odd messages are part of the traffic, not of this plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from parley.tools.soakrig.config import SoakConfig

log = logging.getLogger(__name__)


@dataclass
class Fault:
    kind: str  # kill, sigterm, db_outage, gemini_outage
    target: str  # bridge, projector, api, database, gemini
    planned_at: float  # seconds after the traffic started
    started: float | None = None  # seconds after the traffic started
    seconds: float = 0.0  # how long it took, recovery included
    outcome: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.target}"


# Rough seconds each fault takes, recovery included, for spreading them out.
EXPECTED_S = {"kill": 3.0, "sigterm": 4.0}
DB_RESTART_S = 6.0  # the server takes a few seconds to stop and to start


def plan_faults(config: SoakConfig, targets: tuple[str, ...]) -> list[Fault]:
    """The faults of the run, in the order they will happen.

    Process and database faults take turns (two at once would blur what each
    shows), spread over the traffic with random gaps; the model outage is
    independent of them and runs beside them, also while messages flow."""
    rng = random.Random(config.seed * 7919 + 1)
    faults: list[Fault] = []
    for target in targets:
        if config.has(f"kill_{target}"):
            faults.extend(Fault("kill", target, 0.0) for _ in range(config.kills))
        if config.has("sigterm"):
            faults.append(Fault("sigterm", target, 0.0))
    if config.has("db_outage"):
        faults.append(Fault("db_outage", "database", 0.0))
    rng.shuffle(faults)
    traffic = config.traffic_seconds
    durations = [_expected(fault, config) for fault in faults]
    slack = max(0.0, 0.8 * traffic - sum(durations))
    moment = 0.1 * traffic
    for fault, duration in zip(faults, durations, strict=True):
        moment += rng.uniform(0.0, slack / max(1, len(faults)))
        fault.planned_at = moment
        moment += duration
    if config.has("gemini_outage"):
        latest = max(0.15, 0.75 - config.gemini_outage_s / traffic)
        faults.append(Fault("gemini_outage", "gemini", traffic * rng.uniform(0.15, latest)))
    return faults


def _expected(fault: Fault, config: SoakConfig) -> float:
    if fault.kind == "db_outage":
        return config.db_outage_s + DB_RESTART_S
    return EXPECTED_S[fault.kind]


FaultAction = Callable[[Fault], Awaitable[None]]


async def run_faults(
    faults: list[Fault],
    actions: Mapping[str, FaultAction],
    started: float,
    stop: asyncio.Event,
) -> None:
    """Runs the faults at their moments: the model outage on its own, the others
    one after another (each as soon as the one before has finished, if late)."""
    beside = [fault for fault in faults if fault.kind == "gemini_outage"]
    in_turn = [fault for fault in faults if fault.kind != "gemini_outage"]
    await asyncio.gather(
        _run_in_turn(in_turn, actions, started, stop),
        *(_run_in_turn([fault], actions, started, stop) for fault in beside),
    )


async def _run_in_turn(
    faults: list[Fault],
    actions: Mapping[str, FaultAction],
    started: float,
    stop: asyncio.Event,
) -> None:
    for fault in faults:
        delay = started + fault.planned_at - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        began = time.monotonic()
        fault.started = began - started
        log.warning("fault", extra={"fault": fault.label, "at_s": round(fault.started, 1)})
        try:
            await actions[fault.kind](fault)
        except Exception as exc:
            log.exception("fault action failed", extra={"fault": fault.label})
            fault.problems.append(f"the harness could not carry it out: {exc!r}")
        fault.seconds = time.monotonic() - began
