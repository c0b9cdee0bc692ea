"""`parley projector`: every projection, caught up and then following the log,
until SIGTERM or SIGINT (the batch in hand is committed, leases are released)."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from parley.tools.config import Settings

HELP = "every projection, catching up then following"
log = logging.getLogger("parley.projector")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__


def run(args: argparse.Namespace, settings: Settings) -> int:
    from parley.projections.runner import Projector
    from parley.projections.settings import from_env
    from parley.tools.parley_app import open_app

    projector_settings = from_env(settings.environ)
    app = open_app(settings, poll_interval=projector_settings.poll_interval)
    projector = Projector(app, projector_settings)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        projector.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        projector.run()
    except Exception:
        log.exception("projector failed", extra={"holder": projector.holder})
        return 1
    finally:
        app.close()
    return 0
