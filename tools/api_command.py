"""`parley api`: the query API and the operator dashboard, until interrupted.

With no PARLEY_API_TOKENS, it makes a random token on its first start, prints it
once inside the dashboard link, and keeps it (readable by its owner only) in
`<data folder>/api-token`, where later starts find it."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from parley.tools.config import Settings, read_env_file

if TYPE_CHECKING:
    from parley.http.config import ApiConfig

HELP = "the query API and the dashboard"
log = logging.getLogger("parley.api")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__


def prepare(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[ApiConfig, str]:
    """The API's configuration, and a line for the operator saying where to sign in.

    Starts the embedded database if no URI is configured, checks the database is a
    replica set, and, with no PARLEY_API_TOKENS, makes (or reuses) a local token
    stored under the data folder.
    """
    from parley.eventstore.connection import database_uri, open_client
    from parley.http.auth import TOKEN_FILE, local_token
    from parley.http.config import ApiConfig, from_env

    env = dict(read_env_file(Path(".env")))
    env.update(os.environ if environ is None else environ)
    api = from_env(env)
    uri = database_uri(settings.data_dir, settings.mongodb_uri)
    open_client(uri).close()
    # Listening on every interface: the link points at this machine's loopback.
    wildcard = settings.api_host in ("0.0.0.0", "::", "")  # noqa: S104 - a comparison
    host = "127.0.0.1" if wildcard else settings.api_host
    url = f"http://{host}:{settings.api_port}/"
    tokens = settings.api_tokens
    if tokens:
        notice = f"dashboard: {url} (sign in with a token from PARLEY_API_TOKENS)"
    else:
        token, created = local_token(settings.data_dir)
        tokens = (token,)
        where = settings.data_dir / TOKEN_FILE
        if created:
            notice = (
                f"no PARLEY_API_TOKENS set: made a local API token, stored in {where}\n"
                f"dashboard: {url}#token={token}"
            )
        else:
            notice = f"dashboard: {url} (token: PARLEY_API_TOKENS unset, using {where})"
    return ApiConfig(settings=settings, api=api, mongodb_uri=uri, tokens=tokens), notice


def run(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web
    from parley.http.app import create_app

    config, notice = prepare(settings)
    print(notice, flush=True)
    extensions = []
    if settings.transport == "simulator":
        from parley.http.simulator import SimulatorExtension

        extensions.append(
            SimulatorExtension(config.mongodb_uri, settings.database, account=settings.account)
        )
    log.info(
        "api starting",
        extra={"host": settings.api_host, "port": settings.api_port, "database": settings.database},
    )
    web.run_app(
        create_app(config, extensions=extensions),
        host=settings.api_host,
        port=settings.api_port,
        print=None,
        access_log=None,
    )
    return 0
