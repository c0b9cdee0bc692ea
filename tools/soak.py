"""The soak harness: the whole of Parley under load and faults, end to end.

    python -m parley.tools.soak [--conversations 300] [--messages 3000] [--rate 50]
        [--model-latency-ms 0] [--model-error-rate 0] [--all-faults | --kill-bridge
        --kill-projector --kill-api --db-outage --gemini-outage --duplicates
        --odd-messages --sigterm] [--db-outage-s 20] [--gemini-outage-s 30]

It starts the embedded database, a fake Gemini server, and `parley bridge` (on the
Cloud API transport), `parley projector` and `parley api` as separate processes.
The harness plays Meta: it posts signed webhooks at the set rate, retrying as Meta
does, and serves the Graph API the bridge sends replies to. At the end it stops
every process with SIGTERM and reconciles: every inbound message answered exactly
once (or withheld with a reason), every failure explained by an injected fault,
every read model equal to a rebuild from event 1. It prints the end-to-end latency
(model time subtracted), throughput, projection lag and each process's memory,
and exits 0 only if everything held.

`run_soak(SoakConfig(...))` does the same from Python (the test suite uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from parley.tools.soakrig.config import FAULTS, SoakConfig
from parley.tools.soakrig.report import render
from parley.tools.soakrig.run import SoakResult, run_soak

__all__ = ["SoakConfig", "SoakResult", "main", "render", "run_soak"]


def parse(argv: list[str] | None = None) -> SoakConfig:
    parser = argparse.ArgumentParser(
        prog="python -m parley.tools.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--messages", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=50.0, help="inbound messages per second")
    parser.add_argument("--model-latency-ms", type=float, default=0.0)
    parser.add_argument("--model-error-rate", type=float, default=0.0)
    for fault in FAULTS:
        parser.add_argument(f"--{fault.replace('_', '-')}", action="store_true")
    parser.add_argument("--all-faults", action="store_true", help="every fault above")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs per killed process")
    parser.add_argument("--db-outage-s", type=float, default=20.0)
    parser.add_argument("--gemini-outage-s", type=float, default=30.0)
    parser.add_argument(
        "--no-status-webhooks",
        action="store_true",
        help="the fake Graph API posts no 'sent' status back",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout-s", type=float, default=300.0)
    parser.add_argument("--work-dir", type=Path, help="keep the run's database and logs here")
    parser.add_argument("--log-level", default="INFO", help="of the Parley processes")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=("projector", "api"),
        help="leave a process out (to measure what it costs)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra setting for every Parley process (repeatable)",
    )
    args = parser.parse_args(argv)
    faults = set(FAULTS) if args.all_faults else {f for f in FAULTS if getattr(args, f)}
    extra = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env takes NAME=VALUE, not {item!r}")
        extra[name] = value
    try:
        return SoakConfig(
            conversations=args.conversations,
            messages=args.messages,
            rate=args.rate,
            model_latency_ms=args.model_latency_ms,
            model_error_rate=args.model_error_rate,
            faults=frozenset(faults),
            kills=args.kills,
            db_outage_s=args.db_outage_s,
            gemini_outage_s=args.gemini_outage_s,
            status_webhooks=not args.no_status_webhooks,
            seed=args.seed,
            settle_timeout_s=args.settle_timeout_s,
            work_dir=args.work_dir,
            log_level=args.log_level.upper(),
            without=frozenset(args.without),
            extra_env=extra,
        )
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


async def _run_until_signalled(config: SoakConfig) -> SoakResult:
    """The run, cancelled (so every process it started is stopped) on SIGTERM."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_soak(config)


def main(argv: list[str] | None = None) -> int:
    config = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="soak %(levelname)s %(message)s")
    try:
        result = asyncio.run(_run_until_signalled(config))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("soak: stopped before the end; every process it started was stopped", file=sys.stderr)
        return 130
    print(render(result), flush=True)
    if config.work_dir is not None:
        print(f"logs and database: {config.work_dir}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
