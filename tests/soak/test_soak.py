"""The whole system under load with every fault on, at test-suite size: the harness
(`parley.tools.soak`) runs the bridge, projector and API as processes on the
embedded database, plays Meta, kills and stops things, and reconciles.

Pass or fail rests on correctness only (the run reports its timings, never
checked here): every inbound message recorded once and answered once or
withheld with a reason, every failure explained by an injected fault, no reply
sent twice, clean SIGTERMs, read models equal to a rebuild."""

from __future__ import annotations

import importlib.util

import pytest
from parley.tools.soak import SoakConfig, render, run_soak
from parley.tools.soakrig.config import FAULTS
from parley.tools.soakrig.traffic import ODD_KINDS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def parts_installed() -> bool:
    try:
        return all(
            importlib.util.find_spec(name) is not None
            for name in ("parley.http.app", "parley.projections.registry")
        )
    except ModuleNotFoundError:
        return False


async def test_every_fault_at_once_loses_nothing_and_sends_nothing_twice() -> None:
    if not parts_installed():
        pytest.skip("needs parley.projections and parley.http")
    config = SoakConfig(
        conversations=30,
        messages=480,
        rate=12.0,  # 40 s of traffic, room for eight faults one after another
        faults=frozenset(FAULTS),
        kills=1,
        db_outage_s=6.0,
        gemini_outage_s=5.0,
        duplicate_share=0.1,
        odd_share=0.1,
        seed=11,
        settle_timeout_s=150.0,
        # The breaker closes again within the run, so recovery is exercised too.
        extra_env={"PARLEY_GEMINI_BREAKER_OPEN_MS": "3000"},
    )

    result = await run_soak(config)
    report = render(result)
    print(report)

    assert result.ok, report
    assert result.processes_run == ("bridge", "projector", "api")
    assert all(fault.started is not None for fault in result.faults), report
    assert {f.label for f in result.faults} >= {
        "kill:bridge",
        "kill:projector",
        "kill:api",
        "sigterm:bridge",
        "sigterm:projector",
        "sigterm:api",
        "db_outage:database",
        "gemini_outage:gemini",
    }
    found = result.reconciliation
    assert found is not None
    outcomes = found.replied + sum(found.withheld.values()) + found.explained_failures
    assert outcomes == found.planned == len(result.plan)
    assert set(found.withheld) == {"nothing to answer"}
    # The faults and the traffic did what they were meant to.
    assert {item.kind for item in result.plan} >= set(ODD_KINDS)
    assert sum(item.copies - 1 for item in result.plan) > 0
    assert result.inbound_posts.posts > len(result.plan)
    assert found.fallbacks, "the model outage produced no fallback reply"
    assert result.read_models is not None
    assert result.read_models.ok
    assert all(stopped.exit_code == 0 for stopped in result.shutdown.values())
