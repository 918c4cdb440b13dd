"""The API endpoint's own cost, without HTTP: ASGI calls in one event loop, one at a time.

    python -m bench.inproc [--db sqlite|postgresql] [--actions status_one,...] [--profile]

Less noisy than wrk on a shared machine (it measures one process's time per request, not
the throughput of a server), so it is the tool for a before/after of a small change; the
ratios that count are still those of ``python -m bench.run``. ``--profile`` prints the
functions that take the time (cProfile, sorted by cumulative time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import shutil
import time
from typing import Any

from bench import loads
from bench.seed import add_orders, create_database, drop_database, scratch_dir, seed


async def _call(app: Any, body: bytes) -> bytes:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v2", "raw_path": b"/api/v2", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"),
                    (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
    }
    sent: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    await app(scope, receive, send)
    return b"".join(sent)


async def _loop(app: Any, bodies: list[bytes], count: int) -> tuple[float, float]:
    """Seconds per request: elapsed, and this process's CPU (steadier on a shared machine;
    on PostgreSQL the database server's CPU is not in it)."""
    for body in bodies[:20]:  # warm caches and connections
        await _call(app, body)
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        await _call(app, bodies[n % len(bodies)])
    return (time.perf_counter() - started) / count, (time.process_time() - cpu) / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--actions", default="status_one,status_100,services,balance,add")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)


    workdir = scratch_dir()
    url = create_database(args.db, workdir)
    try:
        seeded = seed(args.db, url)
        add_orders(seeded, args.orders)
        os.environ["OPENSMM_DATABASE_URL"] = url
        os.environ.setdefault("OPENSMM_ACCESS_LOG", "false")
        from opensmm.api.endpoint import ApiEndpoint
        from opensmm.db import Database
        from opensmm.settings import get_settings

        settings = get_settings()
        db = Database(url)
        app = ApiEndpoint(db, settings.currency, settings.db_threads, settings)
        rng = random.Random(1)
        for action in args.actions.split(","):
            bodies = [b.encode() for b in loads.bodies(action, seeded, rng)]
            slow = ("status_100", "add", "add_many", "services")
            count = args.count // (10 if action in slow else 1)
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
            seconds, cpu = asyncio.run(_loop(app, bodies, count))
            if args.profile:
                profiler.disable()
                print(f"--- {action}")
                # BENCH_SORT=tottime for where the time is spent, BENCH_TOP=N for more lines.
                pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")) \
                    .print_stats(int(os.environ.get("BENCH_TOP", "30")))
            print(f"{args.db:10} {action:11} {seconds * 1e6:8.0f} us/request"
                  f" {cpu * 1e6:8.0f} us CPU/request")
        db.dispose()
    finally:
        drop_database(url)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
