"""The `parley` command."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from parley.eventstore.datastore import DatabaseSetupError
from parley.projections.errors import ProjectionError
from parley.tools import (
    api_command,
    audit_command,
    events_command,
    projector_command,
    replay_command,
)
from parley.tools.config import ConfigError, Settings, load_settings
from parley.tools.logs import configure_logging

log = logging.getLogger("parley")

Handler = Callable[[argparse.Namespace, Settings], int]


class UsageError(Exception):
    """Raised when a command is given arguments it cannot act on."""


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from parley.eventstore.embedded import EmbeddedServer

    server = EmbeddedServer(settings.data_dir)
    if args.action == "start":
        if not settings.embedded:
            raise UsageError("PARLEY_MONGODB_URI is set: Parley does not manage that server")
        print(f"embedded database: running at {server.ensure_running()}")
    elif args.action == "stop":
        print("embedded database: stopped" if server.stop() else "embedded database: not running")
    elif not settings.embedded:
        from parley.eventstore.connection import open_client
        from parley.eventstore.datastore import redact_uri

        open_client(settings.mongodb_uri or "").close()
        print(f"database: {redact_uri(settings.mongodb_uri or '')} answers (replica set)")
    else:
        print(server.status().describe())
    return 0


def _bridge(args: argparse.Namespace, settings: Settings) -> int:
    from parley.tools.bridge_command import bridge_command

    return bridge_command(settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from parley.tools.run_command import run_command

    return run_command(settings)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Handler] = {}

    db = commands.add_parser("db", help="the embedded database: status, start, stop")
    db.add_argument("action", choices=("status", "start", "stop"), nargs="?", default="status")
    handlers["db"] = _db

    commands.add_parser("bridge", help="a WhatsApp transport and the reply process")
    handlers["bridge"] = _bridge

    commands.add_parser("run", help="everything in one supervisor")
    handlers["run"] = _run

    for name, module in (
        ("projector", projector_command),
        ("replay", replay_command),
        ("audit", audit_command),
        ("events", events_command),
        ("api", api_command),
    ):
        module.configure(commands.add_parser(name, help=module.HELP))
        handlers[name] = module.run
    return parser, handlers


class StopBeforeStart(SystemExit):
    """Raised when SIGTERM arrives before the command installed its own handling:
    nothing has started, so there is nothing to stop but the process, cleanly."""

    def __init__(self) -> None:
        super().__init__(0)


def _stop_before_start(signum: int, frame: object) -> None:
    raise StopBeforeStart


def main(argv: Sequence[str] | None = None) -> int:
    # Commands install their own SIGTERM handling once running; until then (the
    # imports and connecting can take seconds) the default would kill the process.
    signal.signal(signal.SIGTERM, _stop_before_start)
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(args.command, settings.log_level)
        return handlers[args.command](args, settings)
    except (ConfigError, DatabaseSetupError, ProjectionError, UsageError) as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
