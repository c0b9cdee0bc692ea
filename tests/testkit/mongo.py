"""One SecantusDB server per test session; each test gets its own database name."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path

from parley.eventstore.embedded import EmbeddedServer

_counter = itertools.count(1)


@lru_cache(maxsize=1)
def session_server() -> tuple[EmbeddedServer, str]:
    """Starts the session's server on first use; stops it when the session ends."""
    root = Path(tempfile.mkdtemp(prefix="parley-test-db-"))
    server = EmbeddedServer(root)
    uri = server.ensure_running()

    def cleanup() -> None:
        server.stop(timeout=10)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(cleanup)
    return server, uri


def session_uri() -> str:
    return os.environ.get("PARLEY_TEST_MONGODB_URI") or session_server()[1]


def unique_database_name(label: str = "t") -> str:
    clean = "".join(ch for ch in label if ch.isalnum())[:24] or "t"
    return f"{clean}_{next(_counter)}_{uuid.uuid4().hex[:8]}"
