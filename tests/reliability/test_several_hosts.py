"""Several hosts, simulated on 127.0.0.1: two ``opensmm serve --no-worker`` and two
``opensmm worker`` processes, each in its own process group with its own state directory,
sharing one PostgreSQL database, one Redis and one secret. One worker's clock runs five
minutes ahead: leases are read on the database's clock, so it neither steals the other
worker's live leases nor takes its sends in flight for stuck ones (docs/reliability.md)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.db import Database, types
from opensmm.ledger import service as ledger
from opensmm.orders import events
from opensmm.orders.models import Order, OrderEvent
from tests.fakepanel import FakePanel, Slow
from tests.fulfillment import helpers as h
from tests.fulfillment.processes import WORKER_ENV, count_orders, wait_until
from tests.fulfillment.upstream import Book
from tests.support.panel import free_port, opensmm_env, wait_until_up

KEY = "upstreamkey123"
ORDERS = 60
SKEW_SECONDS = 300  # the second worker's host clock: five minutes fast


class Host:
    """One process as if on its own machine: its own process group and state directory."""

    def __init__(self, root: Path, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.home = root / name
        self.home.mkdir()
        self.log = self.home / "opensmm.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, *argv], cwd=self.home, stdout=log, stderr=subprocess.STDOUT,
                env={**env, "HOME": str(self.home), "TMPDIR": str(self.home)},
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def test_database_now_is_the_database_clock_on_a_host_whose_clock_is_off(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    true_utcnow = types.utcnow
    monkeypatch.setattr(types, "utcnow", lambda: true_utcnow() + timedelta(seconds=SKEW_SECONDS))
    db = Database(database_url)
    try:
        first = db.now()  # the first use measures the offset by itself
        if db.is_sqlite:  # one file on this host: this host's clock is the database's
            assert db.clock_offset == timedelta(0) and first > true_utcnow()
            return
        with db.read() as session:
            theirs = session.scalar(text("SELECT clock_timestamp()"))
        assert isinstance(theirs, datetime)
        assert abs(first - theirs) < timedelta(seconds=5)
        assert abs(db.now() - theirs) < timedelta(seconds=5)
        assert abs(db.clock_offset + timedelta(seconds=SKEW_SECONDS)) < timedelta(seconds=5)
    finally:
        db.dispose()


def _customer(db: Database) -> tuple[int, str]:
    with db.write() as session:
        user = accounts.create_user(session, f"c{os.urandom(5).hex()}")
        ledger.add_funds(session, user.id, Decimal(1000), memo="test", actor="test")
        return user.id, accounts.create_key(session, user).key


def test_two_api_hosts_two_workers_one_clock_off(
    database_servers: dict[str, Any], redis_url: str, tmp_path: Path
) -> None:
    server = database_servers["postgresql"]
    url = server.new_database()
    db = Database(url)
    hosts: list[Host] = []
    fake = FakePanel(key=KEY)
    try:
        book = Book(initial=lambda link, quantity: ("Completed", 0))
        book.install(fake)
        # Sends that take a while, so that leases and sends in flight overlap the other
        # worker's passes.
        fake.on("add", lambda received: Slow(book.add(received), 0.3))
        fake.start()
        service_id = h.provider_service(db, h.provider(db, fake.url, KEY), rate=Decimal("1.00"))
        customers = [_customer(db) for _ in range(2)]

        shared = opensmm_env(url, OPENSMM_REDIS_URL=redis_url,
                             OPENSMM_SECRET_KEY="several-hosts-test-secret-0123456789",
                             OPENSMM_LOG_FORMAT="text")
        apis = []
        for n in (1, 2):
            port = free_port()
            host = Host(tmp_path, f"api{n}", ["-m", "opensmm.cli.main", "serve", "--port",
                                              str(port), "--no-worker"], shared)
            hosts.append(host)
            apis.append(f"http://127.0.0.1:{port}")
            wait_until_up(apis[-1], host.process, host.log)
        # Small batches: many short passes, each starting with the look for stuck sends,
        # while the other worker's sends are in flight.
        worker_env = {**shared, **WORKER_ENV, "OPENSMM_WORKER_BATCH": "4"}
        workers = [
            Host(tmp_path, "worker1", ["-m", "opensmm.cli.main", "worker"], worker_env),
            Host(tmp_path, "worker2", ["-m", "tests.reliability.skewed", str(SKEW_SECONDS),
                                       "worker"], worker_env),
        ]
        hosts += workers

        def add(n: int, api: str, who: tuple[int, str]) -> int:
            response = httpx.post(f"{api}/api/v2", timeout=30, data={
                "key": who[1], "action": "add", "service": str(service_id),
                "link": f"https://x.test/{n}", "quantity": "100"})
            assert response.status_code == 200, response.text
            return int(response.json()["order"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            jobs = [pool.submit(add, n, api, who) for n, (api, who) in
                    zip(range(ORDERS), itertools.cycle(itertools.product(apis, customers)))]
            ids = [job.result() for job in jobs]
        assert len(set(ids)) == ORDERS

        def settled() -> bool:
            for worker in workers:
                assert worker.process.poll() is None, worker.output()[-3000:]
            return count_orders(db, Order.status == "Completed") == ORDERS

        wait_until(settled, "every order sent and completed")
        for host in hosts:
            host.stop()
        # Sent exactly once each, none held, none left claimed.
        assert len(book.adds_by_link) == ORDERS
        assert set(book.adds_by_link.values()) == {1}, book.adds_by_link
        assert count_orders(db, Order.held_reason.is_not(None)) == 0
        with db.read() as session:  # not even for a while: no send ever taken for stuck
            held = session.scalars(select(OrderEvent.order_id)
                                   .where(OrderEvent.code == events.HELD.code)).all()
        assert held == [], f"held while another worker was sending them: {held}"
        assert count_orders(db, Order.lease_owner.is_not(None)) == 0
        # Both workers took part (the fast one is not idle because it was shut out).
        for worker in workers:
            assert "worker pass" in worker.output(), worker.output()[-3000:]
        # Money exact: each customer paid for exactly their orders, the ledger agrees.
        with db.read() as session:
            for user_id, _key in customers:
                count, spent = session.execute(
                    select(func.count(), func.sum(Order.charge)).where(Order.user_id == user_id)
                ).one()
                balance = session.scalar(select(User.balance).where(User.id == user_id))
                assert count == ORDERS // 2 and spent > 0
                assert balance == Decimal(1000) - spent
            assert ledger.check(session) == []
    finally:
        for host in hosts:
            host.stop()
        fake.stop()
        db.dispose()
        server.drop(url)
