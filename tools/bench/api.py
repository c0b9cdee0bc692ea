"""The query API under load: the thread list and one thread, over 10,000 threads.

    python -m parley.tools.bench.api [--threads 10000] [--concurrency 16]
                                      [--seconds 5] [--rounds 2] [--uri URI]

The API runs in this process (one aiohttp server, as `parley api` runs it); the
load comes from a second process (this module's `load` command) holding N
concurrent connections. For each question the same second process also asks the
database directly, with the very query functions the API runs
(`parley.http.readmodels`) on its own asyncio MongoDB client: that baseline is
the work without HTTP, tokens, validation and JSON. Two more references: a static
file over HTTP (aiohttp's floor on this machine), and the thread list as a naive
`sort + limit` query, which the API does not use (see `parley.http.paging`).

Rounds are interleaved so drift on a shared machine hits every mode alike. Prints
requests per second, p50 and p99 latency, and the ratio of each API figure to its
direct baseline. Without `--uri` it starts its own embedded server in a temporary
folder, seeded through `parley.tools.seed_read_models`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TOKEN = "bench-token-0123456789abcdef"
PAGE = 50


# ------------------------------------------------------------ load process


async def _drive(
    ask: Callable[[], Awaitable[None]], concurrency: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                await ask()
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    spent = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / spent,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
    }


async def _load(args: argparse.Namespace, ids: list[str]) -> dict[str, float]:
    import aiohttp
    from parley.http import readmodels
    from parley.http.readmodels import ThreadFilters
    from pymongo import AsyncMongoClient

    pick = random.Random(1).choice
    now = datetime.fromisoformat(args.now)
    if args.mode == "http":
        headers = {"Authorization": f"Bearer {TOKEN}"}
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def ask() -> None:
                path = {
                    "list": f"/api/v1/threads?limit={PAGE}",
                    "thread": f"/api/v1/threads/{pick(ids)}",
                    "static": "/static/favicon.svg",
                }[args.target]
                async with session.get(args.url + path) as response:
                    if response.status != 200:
                        raise RuntimeError(response.status)
                    await response.read()

            return await _drive(ask, args.concurrency, args.seconds)

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        args.uri, tz_aware=True, tzinfo=UTC, maxPoolSize=args.concurrency
    )
    db = client[args.database]
    filters = ThreadFilters(account="default")

    async def direct() -> None:
        if args.target == "list":
            page = await readmodels.list_threads(db, filters, None, PAGE, now)
            assert len(page.items) == PAGE
        else:
            assert await readmodels.get_thread(db, pick(ids)) is not None

    async def naive() -> None:
        found = db["rm_threads"].find(
            {"account": "default"}, readmodels.projection(readmodels.THREAD_FIELDS)
        )
        items = await found.sort([("last_message_at", -1), ("_id", -1)]).limit(PAGE).to_list()
        assert len(items) == PAGE

    try:
        return await _drive(
            direct if args.mode == "direct" else naive, args.concurrency, args.seconds
        )
    finally:
        await client.close()


def load_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="api load")
    parser.add_argument("--mode", choices=("http", "direct", "naive"), required=True)
    parser.add_argument("--target", choices=("list", "thread", "static"), required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--uri", default="")
    parser.add_argument("--database", default="")
    parser.add_argument("--ids", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    ids = json.loads(Path(args.ids).read_text())
    print(json.dumps(asyncio.run(_load(args, ids))))


# ----------------------------------------------------------- bench process


def seed(uri: str, database: str, threads: int, newest: datetime) -> list[str]:
    from parley.tools.seed_read_models import ensure_indexes, seed_threads
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    db = client[database]
    ensure_indexes(db)
    documents = seed_threads(db, threads, newest=newest, spacing=timedelta(minutes=1))
    client.close()
    return [str(document["_id"]) for document in documents]


async def bench(args: argparse.Namespace, uri: str) -> list[tuple[str, str, dict[str, float]]]:
    from aiohttp import web
    from parley.http.app import create_app
    from parley.http.config import ApiConfig, ApiSettings
    from parley.tools.config import load_settings

    database = f"bench_api_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    ids = await asyncio.to_thread(seed, uri, database, args.threads, now - timedelta(minutes=1))
    folder = Path(tempfile.mkdtemp(prefix="parley-bench-api-"))
    ids_file = folder / "ids.json"
    await asyncio.to_thread(ids_file.write_text, json.dumps(ids))
    settings = load_settings(
        {"PARLEY_DATABASE": database, "PARLEY_MONGODB_URI": uri, "PARLEY_LOG_LEVEL": "WARNING"},
        env_file=None,
    )
    config = ApiConfig(
        settings=settings,
        api=ApiSettings(rate_per_second=1e5, burst=100_000),
        mongodb_uri=uri,
        tokens=(TOKEN,),
    )
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server  # the bound port is only exposed here
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    modes = [
        ("list", "http"),
        ("list", "direct"),
        ("list", "naive"),
        ("thread", "http"),
        ("thread", "direct"),
        ("static", "http"),
    ]
    results: list[tuple[str, str, dict[str, float]]] = []
    try:
        for _ in range(args.rounds):
            for target, mode in modes:
                command = [
                    sys.executable, "-m", "parley.tools.bench.api", "load",
                    "--mode", mode, "--target", target,
                    "--url", f"http://127.0.0.1:{port}", "--uri", uri, "--database", database,
                    "--ids", str(ids_file), "--now", now.isoformat(),
                    "--concurrency", str(args.concurrency), "--seconds", str(args.seconds),
                ]  # fmt: skip
                process = await asyncio.create_subprocess_exec(
                    *command, stdout=asyncio.subprocess.PIPE
                )
                output, _ = await process.communicate()
                if process.returncode != 0:
                    raise RuntimeError(f"load process failed: {target} {mode}")
                results.append((target, mode, json.loads(output)))
    finally:
        await runner.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
        from pymongo import MongoClient

        cleanup: MongoClient[dict[str, Any]] = MongoClient(uri)
        cleanup.drop_database(database)
        cleanup.close()
    return results


def report(results: list[tuple[str, str, dict[str, float]]], args: argparse.Namespace) -> None:
    def combined(target: str, mode: str) -> dict[str, float]:
        runs = [r for t, m, r in results if (t, m) == (target, mode)]
        return {
            "rps": statistics.mean(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
        }

    print(
        f"{args.threads} threads, {args.concurrency} concurrent clients in a second process, "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per mode"
    )
    print(f"{'question':<24}{'mode':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    labels = {
        "http": "API over HTTP",
        "direct": "same queries, no HTTP",
        "naive": "naive sort+limit query",
    }
    questions = {
        "list": "thread list (50)",
        "thread": "one thread",
        "static": "static file",
    }
    for target, mode in dict.fromkeys((t, m) for t, m, _ in results):
        figures = combined(target, mode)
        print(
            f"{questions[target]:<24}{labels[mode]:<26}{figures['rps']:>9.0f}"
            f"{figures['p50_ms']:>9.1f}{figures['p99_ms']:>9.1f}{figures['errors']:>8.0f}"
        )
    for target in ("list", "thread"):
        ratio = combined(target, "http")["rps"] / combined(target, "direct")["rps"]
        print(f"{questions[target]}: API throughput / direct queries = {ratio:.2f}")
    windowed = combined("list", "http")["rps"] / combined("list", "naive")["rps"]
    print(f"thread list: API throughput / naive sort+limit query = {windowed:.2f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        load_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0, help="per mode and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--uri", help="an existing replica set (default: own embedded server)")
    args = parser.parse_args()
    if min(args.threads, args.concurrency, args.rounds) < 1 or args.seconds <= 0:
        parser.error("--threads, --concurrency, --rounds and --seconds must be positive")
    if args.threads < PAGE + 1:
        parser.error(f"--threads must be more than {PAGE}")

    from parley.eventstore.embedded import EmbeddedServer

    folder = None
    embedded = None
    uri = args.uri
    if uri is None:
        folder = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        embedded = EmbeddedServer(folder)
        uri = embedded.ensure_running()
    try:
        results = asyncio.run(bench(args, uri))
    finally:
        if embedded is not None:
            embedded.stop()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    main()
