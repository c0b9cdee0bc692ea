"""`parley replay NAME... | --all [--shadow]`: rebuild read models from event 1,
with a progress line on stderr."""

from __future__ import annotations

import argparse
import sys

from parley.tools.config import Settings

HELP = "rebuild read models from event 1"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("names", nargs="*", metavar="NAME", help="threads, messages, ...")
    parser.add_argument("--all", action="store_true", help="every read model")
    parser.add_argument(
        "--shadow",
        action="store_true",
        help="build beside the live read model and swap it in when done",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from parley.projections.errors import UnknownProjection
    from parley.projections.progress import ProgressBar
    from parley.projections.registry import PROJECTION_NAMES, projection_class
    from parley.projections.replay import replay
    from parley.projections.settings import from_env
    from parley.tools.parley_app import open_app

    if args.all == bool(args.names):
        msg = f"name the read models to rebuild ({', '.join(PROJECTION_NAMES)}) or give --all"
        raise UnknownProjection(msg)
    names = list(PROJECTION_NAMES) if args.all else list(dict.fromkeys(args.names))
    for name in names:
        projection_class(name)
    projector_settings = from_env(settings.environ)
    app = open_app(settings)
    bar = ProgressBar(sys.stderr, ",".join(names))
    try:
        result = replay(
            app,
            names,
            shadow=args.shadow,
            batch_size=projector_settings.batch_size,
            lease_seconds=projector_settings.lease_seconds,
            cache_size=projector_settings.cache_size,
            progress=bar.update,
        )
    finally:
        app.close()
    bar.finish(result.position, result.position)
    how = "in a shadow, swapped in" if result.shadow else "in place"
    print(
        f"rebuilt {', '.join(result.projections)} {how} to position {result.position}: "
        f"{result.events:,} events in {result.seconds:.1f}s "
        f"({result.events_per_second:,.0f} events/s)"
    )
    return 0
