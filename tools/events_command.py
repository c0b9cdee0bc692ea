"""`parley events tail [--from POSITION] [--json]`: print each new event of the
log as one line, as it is recorded, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from parley.tools.config import Settings

HELP = "follow the event log"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("action", choices=("tail",), help="tail: follow the log live")
    parser.add_argument(
        "--from",
        dest="after",
        type=_position,
        metavar="POSITION",
        help="start after this log position (default: only events recorded from now on)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from parley.projections.tail import tail
    from parley.tools.parley_app import open_app

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app = open_app(settings)
    try:
        for entry in tail(app, after=args.after, stop=stop):
            print(entry.json_line() if args.json else entry.line(), flush=True)
    finally:
        app.close()
    return 0


def _position(text: str) -> int:
    if not text.isdigit():
        msg = f"a log position is a whole number, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)
