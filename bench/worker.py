"""The worker's benchmark: following orders at an upstream panel, and forwarding new ones.

The upstream is another opensmm on 127.0.0.1 (``opensmm serve``), whose services are in
simulator mode; our panel knows it as a provider, with services mapped to its services.

- Sync: our panel has N running orders ("In progress", already sent, due for a check);
  at the upstream the same orders are finished (Completed, or Partial with remains). The
  time for ``opensmm worker`` to bring all N up to date (status, remains, refunds) gives
  orders per second. The upstream's orders are seeded in bulk as finished, so that what
  is timed is our worker (100 ids per ``status`` call, updates, refunds), not the
  simulator's clock.
- Forwarding: M new orders are then placed (bulk, ``send_state`` new); the time until the
  worker has sent them all with ``add`` gives orders forwarded per second. Each costs the
  upstream an ``add``, so this measures the pair of panels, not the worker alone.

Timing starts at the first order the worker finished, so that its start-up (imports, the
first pass's set-up) is not counted; the orders finished before that are left out of the
rate.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from sqlalchemy import text

from bench.seed import Seeded, add_orders, create_database, drop_database, seed
from bench.servers import Server, opensmm_command, python_env

FINISHED_MIX = (("Completed", 90), ("Partial", 10))


def upstream_with_finished_orders(workdir: Any, count: int) -> tuple[Seeded, Server]:
    """The upstream (an opensmm on SQLite, simulator services) holding ``count`` finished
    orders, and its server, made but not started (no rate limits: one key asks it all)."""
    url = create_database("sqlite", workdir, role="upstream")
    upstream = seed("sqlite", url, customers=1, services=5, fulfillment="simulator")
    add_orders(upstream, count, status_mix=FINISHED_MIX)
    env = {"OPENSMM_DATABASE_URL": url,
           "OPENSMM_RATE_LIMIT_PER_KEY": "1000000000",
           "OPENSMM_RATE_LIMIT_PER_IP": "1000000000"}
    return upstream, Server("upstream", opensmm_command(1), python_env(**env))


def add_running_orders(panel: Seeded, provider_id: int, upstream: Seeded, count: int) -> int:
    """``count`` orders of our panel running at the upstream (sent an hour ago, due for a
    check), each the upstream's order of the same rank; the id of the first."""
    from datetime import timedelta

    from opensmm.db import utcnow

    now = utcnow()
    running = {"fulfillment": "provider", "provider_id": provider_id,
               "send_state": "sent", "sent_at": now - timedelta(hours=1),
               "next_poll_at": now - timedelta(seconds=1)}
    add_orders(panel, count, status_mix=(("In progress", 1),), overrides=running,
               upstream_start=upstream.segments[0][0])
    return panel.segments[0][0]


def _count(url: str, where: str) -> int:
    from opensmm.db import Database

    db = Database(url)
    try:
        with db.read() as session:
            return int(session.execute(text(f"SELECT count(*) FROM orders WHERE {where}"))
                       .scalar() or 0)
    finally:
        db.dispose()


def _put_on_route_1(url: str, first_id: int) -> None:
    """Seeded orders carry no route: put them on their service's route 1, as ``add`` does
    (an order without its provider service would be held, not sent), and only then make
    them new, in the same statement: the worker is already running, and an order it found
    new before it had its route would be held."""
    from opensmm.db import Database

    db = Database(url)
    try:
        with db.write() as session:
            session.execute(text(
                "UPDATE orders SET send_state = 'new', provider_service_id = (SELECT "
                "provider_service_id FROM services WHERE services.id = orders.service_id) "
                "WHERE id >= :first"
            ), {"first": first_id})
    finally:
        db.dispose()


def _wait_for(
    url: str, where: str, total: int, timeout: float, tick: float = 0.2
) -> dict[str, Any]:
    """Poll until ``where`` holds for ``total`` orders; the rate from the first one on."""
    started = time.monotonic()
    first: tuple[float, int] | None = None
    done = 0
    while time.monotonic() - started < timeout:
        done = _count(url, where)
        now = time.monotonic()
        if done and first is None:
            first = (now, done)
        if done >= total:
            break
        time.sleep(tick)
    else:
        raise RuntimeError(f"worker did not finish: {done} of {total} after {timeout:.0f}s")
    assert first is not None
    counted = total - first[1]
    if counted > 0:
        seconds = max(now - first[0], tick)
    else:  # all done at the first look (a small smoke run): count the start-up in
        counted, seconds = total, now - started
    return {
        "orders": total,
        "seconds": round(seconds, 2),
        "per_second": round(counted / seconds, 1),
        "counted": counted,
        "wall_seconds_with_startup": round(now - started, 2),
    }


def _panel_with_provider(kind: str, workdir: Any, upstream_url: str, upstream_key: str,
                         upstream_services: list[int], customers: int) -> Any:
    """Our panel: a provider pointing at the upstream, services mapped to its services."""
    from decimal import Decimal

    from opensmm.catalog import service as catalog
    from opensmm.db import Database
    from opensmm.providers import service as providers

    url = create_database(kind, workdir, role="panel")
    seeded = seed(kind, url, customers=customers, services=0)
    db = Database(url)
    try:
        with db.write() as session:
            provider = providers.add_provider(session, "upstream", upstream_url, upstream_key)
            seeded.services = [
                catalog.add_service(
                    session, name=f"Followers via upstream {n}", category="Upstream",
                    rate=Decimal("1.20"), min_quantity=10, max_quantity=100_000,
                    fulfillment="provider", provider_id=provider.id,
                    provider_service_id=service_id,
                ).id
                for n, service_id in enumerate(upstream_services)
            ]
            provider_id = provider.id
    finally:
        db.dispose()
    return seeded, provider_id


def measure_worker(bench: Any) -> dict[str, Any]:
    from datetime import timedelta

    from opensmm.db import utcnow

    mode = bench.mode
    count = mode.worker_orders
    forward = max(50, count // 10)
    results: dict[str, Any] = {"databases": {}, "note": (
        f"Upstream: another opensmm on 127.0.0.1 with simulator services. Sync: {count:,} "
        f"running orders brought up to date by `opensmm worker` (100 ids per status call). "
        f"Forwarding: {forward:,} new orders sent with `add` (each one also an order placed "
        "at the upstream, so the pair of panels is measured).")}
    for kind in bench.args.dbs:
        bench.say(f"worker on {kind}: seeding the upstream and the panel")
        upstream, server = upstream_with_finished_orders(bench.workdir, count)
        worker: subprocess.Popen[bytes] | None = None
        panel_url = ""
        try:
            server.start(bench.workdir, f"key={upstream.key}&action=balance")
            panel, provider_id = _panel_with_provider(
                kind, bench.workdir, server.url, upstream.key, upstream.services, customers=10)
            panel_url = panel.url
            first_panel_id = add_running_orders(panel, provider_id, upstream, count)
            log = (bench.workdir / f"worker-{kind}.log").open("wb")
            worker = subprocess.Popen(
                [sys.executable, "-m", "opensmm.cli.main", "worker"],
                env=python_env(OPENSMM_DATABASE_URL=panel.url), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            sync = _wait_for(panel.url, f"id >= {first_panel_id} AND (status <> 'In progress' "
                                        "OR alert IS NOT NULL)", count, timeout=300)
            bench.say(f"worker on {kind}: {count} orders up to date, "
                      f"{sync['per_second']} orders/s")
            new = {"fulfillment": "provider", "provider_id": provider_id,
                   "send_state": None, "next_poll_at": utcnow() - timedelta(seconds=1)}
            add_orders(panel, forward, status_mix=(("Pending", 1),), overrides=new)
            first_new = panel.segments[-1][0]
            _put_on_route_1(panel.url, first_new)
            sent = _wait_for(panel.url, f"id >= {first_new} AND send_state IN ('sent', 'held')",
                             forward, timeout=300)
            bench.say(f"worker on {kind}: {forward} orders forwarded, "
                      f"{sent['per_second']} orders/s")
            problems = _count(panel.url, f"id >= {first_panel_id} AND (send_state = 'held' "
                                         "OR alert IS NOT NULL)")
            if problems:
                raise RuntimeError(f"worker on {kind}: {problems} orders held or alerted")
            results["databases"][kind] = {
                "orders": count, "sync_seconds": sync["seconds"],
                "sync_orders_per_second": sync["per_second"],
                "forwarded": forward, "forward_seconds": sent["seconds"],
                "forward_orders_per_second": sent["per_second"],
                "sync": sync, "forward": sent,
            }
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            server.stop()
            if not bench.args.keep:
                drop_database(upstream.url)
                if panel_url:
                    drop_database(panel_url)
    return results
