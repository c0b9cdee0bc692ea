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


def plan_faults(config: SoakConfig, targets: tuple[str, ...]) -> list[Fault]:
    """The faults of the run, in the order they will happen."""
    rng = random.Random(config.seed * 7919 + 1)
    faults: list[Fault] = []
    for target in targets:
        if config.has(f"kill_{target}"):
            faults.extend(Fault("kill", target, 0.0) for _ in range(config.kills))
        if config.has("sigterm"):
            faults.append(Fault("sigterm", target, 0.0))
    if config.has("db_outage"):
        faults.append(Fault("db_outage", "database", 0.0))
    if config.has("gemini_outage"):
        faults.append(Fault("gemini_outage", "gemini", 0.0))
    rng.shuffle(faults)
    # Spread over the traffic, leaving its first and last tenth quiet; each moment
    # is random within its own slot, so faults do not bunch up.
    window_start = 0.1 * config.traffic_seconds
    slot = 0.8 * config.traffic_seconds / max(1, len(faults))
    for index, fault in enumerate(faults):
        fault.planned_at = window_start + slot * (index + rng.uniform(0.0, 0.8))
    return faults


FaultAction = Callable[[Fault], Awaitable[None]]


async def run_faults(
    faults: list[Fault],
    actions: Mapping[str, FaultAction],
    started: float,
    stop: asyncio.Event,
) -> None:
    """Runs each fault at its moment (or as soon as the one before has finished)."""
    for fault in faults:
        delay = started + fault.planned_at - time.monotonic()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return
            except TimeoutError:
                pass
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
