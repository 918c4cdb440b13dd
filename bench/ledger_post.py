"""Micro-benchmark of ledger.post and orders.place, in one process, for a before/after.

    python -m bench.ledger_post sqlite|postgresql [N]
    PYTHONPATH=/path/to/an/older/checkout python bench/ledger_post.py sqlite   # "base"

Times, in this process's CPU time (less noisy than wall time on a shared machine): N/4
posts each in its own committed unit, N posts inside one unit (the statements' own cost),
and N/4 orders placed inside one unit. It runs against an opensmm from before ledger
entries had codes too (printed as "base"), for the comparison. PostgreSQL: the server at
postgresql://postgres@127.0.0.1:5432/postgres.
"""
import inspect
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal

import psycopg

from opensmm.accounts import service as accounts
from opensmm.catalog import service as catalog
from opensmm.db import Database
from opensmm.db.migrate import upgrade
from opensmm.ledger import service as ledger
from opensmm.orders import service as orders

kind = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
NEW = "event" in inspect.signature(ledger.post).parameters
if NEW:
    from opensmm.events import Actor, params
    from opensmm.ledger import events


def post(session, user_id, key):
    if NEW:
        return ledger.post(session, user_id=user_id, amount=Decimal("0.01"), kind="deposit",
                           key=key, event=events.FUNDS_ADDED,
                           params=params(actor=Actor.of("cli")))
    return ledger.post(session, user_id=user_id, amount=Decimal("0.01"), kind="deposit",
                       key=key, memo="Funds added (by cli)")


if kind == "sqlite":
    url = f"sqlite:///{tempfile.mkdtemp()}/b.db"
else:
    name = f"events_bench_{os.getpid()}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
try:
    upgrade(url)
    db = Database(url)
    with db.write() as s:
        user = accounts.create_user(s, "bench")
        uid = user.id
        service = catalog.add_service(s, name="F", category="C", rate=Decimal("0.9"),
                                      min_quantity=1, max_quantity=10**6).id
    with db.write() as s:
        post(s, uid, "warm")
        ledger.post(s, user_id=uid, amount=Decimal(10**6), kind="deposit", key="big",
                    **({"event": events.FUNDS_ADDED, "params": {}} if NEW else {}))
    customer = orders.Customer(uid, Decimal(0))
    results = {}
    for rnd in range(5):
        t0 = time.process_time()
        for i in range(N // 4):
            with db.write() as s:
                post(s, uid, f"c{rnd}:{i}")
        results.setdefault("post+commit", []).append((time.process_time() - t0) / (N // 4))
        with db.write() as s:
            t0 = time.process_time()
            for i in range(N):
                post(s, uid, f"u{rnd}:{i}")
            results.setdefault("post in one unit", []).append((time.process_time() - t0) / N)
        with db.write() as s:
            t0 = time.process_time()
            for i in range(N // 4):
                orders.place(s, customer, {"service": service, "link": f"l{rnd}{i}",
                                           "quantity": "10"})
            results.setdefault("place in one unit", []).append(
                (time.process_time() - t0) / (N // 4))
    for label, values in results.items():
        median = statistics.median(values) * 1e6
        print(f"{kind:10} {'new' if NEW else 'base'} {label:18} median {median:7.1f} us"
              f"  min {min(values) * 1e6:7.1f} us")
    db.dispose()
finally:
    if kind != "sqlite":
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
