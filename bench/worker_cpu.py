"""The worker's CPU per order while it brings running orders up to date, in one process.

    python -m bench.worker_cpu [--db sqlite|postgresql] [--orders 6000] [--profile]

The same set-up as the worker part of ``python -m bench.run`` (an upstream opensmm on
127.0.0.1 with finished orders, 100 ids per ``status`` call), but the passes run here, one
after another, and what is reported is this process's CPU per order (and the upstream's):
steadier on a shared machine than the orders per second of ``bench.run``, so the tool for a
before/after of a change to the worker (run it with ``PYTHONPATH`` set to another checkout's
source for the other side). ``--profile`` prints where the time goes (cProfile;
BENCH_SORT, BENCH_TOP as for ``bench.inproc``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import time

from bench.seed import drop_database, scratch_dir
from bench.worker import (
    _count,
    _panel_with_provider,
    add_running_orders,
    upstream_with_finished_orders,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--orders", type=int, default=6000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    count = args.orders

    workdir = scratch_dir()
    panel_url = ""
    upstream, server = upstream_with_finished_orders(workdir, count)
    try:
        server.start(workdir, f"key={upstream.key}&action=balance")
        panel, provider_id = _panel_with_provider(
            args.db, workdir, server.url, upstream.key, upstream.services, customers=10)
        panel_url = panel.url
        from opensmm.db import Database
        from opensmm.fulfillment.worker import Worker, WorkerConfig

        first = add_running_orders(panel, provider_id, upstream, count)
        os.environ["OPENSMM_DATABASE_URL"] = panel.url
        worker = Worker(Database(panel.url), WorkerConfig.from_settings())
        where = f"id >= {first} AND (status <> 'In progress' OR alert IS NOT NULL)"
        profiler = cProfile.Profile() if args.profile else None
        upstream_cpu, cpu, started = server.cpu_seconds(), time.process_time(), time.perf_counter()
        passes = 0
        if profiler is not None:
            profiler.enable()
        while passes < 10_000:
            worker.run_once()
            passes += 1
            if _count(panel.url, where) >= count:
                break
        if profiler is not None:
            profiler.disable()
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - started
        upstream_cpu = server.cpu_seconds() - upstream_cpu
        worker.close()
        print(f"{args.db:10} {count} orders in {passes} passes, {wall:.2f} s: worker "
              f"{cpu / count * 1e6:.0f} us CPU/order, upstream {upstream_cpu / count * 1e6:.0f}"
              " us CPU/order")
        if profiler is not None:
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")) \
                .print_stats(int(os.environ.get("BENCH_TOP", "30")))
    finally:
        server.stop()
        if panel_url:
            drop_database(panel_url)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
