"""How long the scorecards cost, on 10,000 orders (or N), on SQLite and PostgreSQL.

    python -m bench.scorecards sqlite|postgresql [N]

Seeds a fresh database (50 services, three providers, N orders of the usual status mix,
finished a day ago, the running ones without progress for two days: the worst case for the
stuck count), then times, as the median of 5 runs: the worker's whole refresh (compute and
store), the compute alone, the page's read (``average_times``, what Services and New order
add to a request) and the notification scan's stuck query. Prints milliseconds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bench.seed import add_orders, create_database, drop_database, seed
from opensmm.db import Database, utcnow
from opensmm.orders.models import Order
from opensmm.providers import service as providers
from opensmm.scorecards import service as scorecards


def median_ms(work: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    kind = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    with tempfile.TemporaryDirectory() as workdir:
        url = create_database(kind, Path(workdir), role="scorecards")
        db = Database(url)
        try:
            seeded = seed(kind, url, customers=10)
            now = utcnow()
            add_orders(seeded, count, overrides={
                "created_at": now - timedelta(days=2), "updated_at": now - timedelta(days=2),
                "finished_at": now - timedelta(days=1)})
            with db.write() as session:
                ids = [providers.add_provider(session, f"p{n}", "http://127.0.0.1:9/api/v2",
                                              "k").id for n in range(3)]
                for n, provider_id in enumerate(ids):
                    session.execute(update(Order).where(Order.id % 3 == n)
                                    .values(provider_id=provider_id))
            since = now - timedelta(hours=24)

            def stuck_query() -> None:
                with db.read() as session:
                    session.execute(
                        select(Order.id).where(*scorecards.stuck_filter(since))
                        .order_by(Order.id).limit(500)).all()

            def page_read() -> None:
                with db.read() as session:
                    scorecards.average_times(session)

            def compute() -> None:
                with db.read() as session:
                    scorecards.compute(session, now)

            figures = {
                "refresh": median_ms(lambda: scorecards.refresh(db, now)),
                "compute": median_ms(compute),
                "page_read": median_ms(page_read),
                "stuck_query": median_ms(stuck_query),
            }
            print(kind, count, "orders:", figures, "(ms, median of 5)")
        finally:
            db.dispose()
            drop_database(url)


if __name__ == "__main__":
    main()
