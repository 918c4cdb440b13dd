"""SIGTERM (systemd, ``docker stop``, a deploy) during a burst of forwarding: ``opensmm serve``
with its worker, and ``opensmm worker`` alone, stop taking work, let the sends on the wire
be answered and recorded, give back what they had claimed but not sent, and exit 0.
Nothing is held, nothing is sent twice, and a restarted worker sends the rest."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opensmm.db import Database
from opensmm.orders.models import Order
from tests.fakepanel import FakePanel, Json, Received, Slow
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.processes import WORKER_ENV, WorkerProcess, count_orders, wait_until
from tests.fulfillment.upstream import Book
from tests.support.panel import free_port, opensmm_env, wait_until_up

ORDERS = 80
# A long lease: only a clean stop gives the claims back before a restarted worker runs.
ENV = {**WORKER_ENV, "OPENSMM_WORKER_LEASE_SECONDS": "60", "OPENSMM_WORKER_HTTP_TIMEOUT": "10",
       "OPENSMM_WORKER_GRACE_SECONDS": "15"}


def _setup(db: Database, fake: FakePanel) -> tuple[Book, list[int]]:
    book = Book()
    book.install(fake)

    def slow_add(received: Received) -> Any:
        return Slow(Json(book.add(received)), 0.25)  # created upstream, answered later

    fake.on("add", slow_add)
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, rate=Decimal("1.00"))
    who = h.customer(db, "1000")
    ids = [h.place(db, who, service_id, 100, link=f"https://x.test/{n}") for n in range(ORDERS)]
    return book, ids


def _check_after_stop(db: Database, fake: FakePanel, book: Book, output: str) -> int:
    """0 held, 0 in doubt, 0 sent twice; every order upstream is recorded as sent; the rest
    are new and free for the next worker. Returns how many were sent."""
    assert count_orders(db, Order.send_state == "held") == 0, output
    assert count_orders(db, Order.send_state == "sending") == 0, output
    assert sorted(book.adds_by_link.values()) == [1] * len(book.adds_by_link)
    sent = count_orders(db, Order.send_state == "sent")
    assert sent == fake.count("add") == len(book.orders), output
    with db.read() as session:
        waiting = session.scalars(select(Order).where(Order.send_state == "new")).all()
    assert len(waiting) == ORDERS - sent
    assert all(order.lease_owner is None for order in waiting), output
    return sent


def _finish_with_a_new_worker(database_url: str, db: Database, book: Book) -> None:
    again = WorkerProcess(database_url, **ENV)
    try:
        wait_until(lambda: count_orders(db, Order.send_state == "sent") == ORDERS,
                   "a restarted worker to send the rest")
    finally:
        assert again.stop() == 0, again.output()
        again.cleanup()
    assert count_orders(db, Order.send_state == "held") == 0
    assert sorted(book.adds_by_link.values()) == [1] * ORDERS  # nothing sent twice


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_in_the_middle_of_forwarding(
    database_url: str, db: Database, fake: FakePanel, signum: int
) -> None:
    book, _ = _setup(db, fake)
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="opensmm-serve-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "opensmm.cli.main", "serve", "--port", str(port)],
            env=opensmm_env(database_url, **ENV), stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}", process, log)
            wait_until(lambda: fake.count("add") >= 10, "a burst of forwarding")
            process.send_signal(signum)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log.read_text(errors="replace")
    log.unlink()
    assert code == 0, output
    sent = _check_after_stop(db, fake, book, output)
    assert sent < ORDERS, "the stop came too late to prove anything"
    _finish_with_a_new_worker(database_url, db, book)


def test_worker_stops_cleanly_in_the_middle_of_forwarding(
    database_url: str, db: Database, fake: FakePanel
) -> None:
    book, _ = _setup(db, fake)
    first = WorkerProcess(database_url, **ENV)
    try:
        wait_until(lambda: fake.count("add") >= 10, "a burst of forwarding")
        first.process.send_signal(signal.SIGTERM)
        code = first.process.wait(timeout=60)
    finally:
        first.stop()
        output = first.output()
        first.cleanup()
    assert code == 0, output
    sent = _check_after_stop(db, fake, book, output)
    assert sent < ORDERS, "the stop came too late to prove anything"
    _finish_with_a_new_worker(database_url, db, book)


def test_serve_abandons_sends_past_the_grace_period_and_still_exits(
    database_url: str, db: Database, fake: FakePanel
) -> None:
    """A send still on the wire after the grace period is abandoned: the process exits 0
    at once, and that order alone stays ``sending`` (held once the lease ends: in doubt)."""
    book, _ = _setup(db, fake)
    fake.on("add", lambda received: Slow(Json(book.add(received)), 30))
    first = WorkerProcess(database_url, **{**ENV, "OPENSMM_WORKER_GRACE_SECONDS": "1",
                                           "OPENSMM_WORKER_SEND_THREADS": "1",
                                           "OPENSMM_WORKER_HTTP_TIMEOUT": "60"})
    try:
        wait_until(lambda: fake.count("add") >= 1, "a send on the wire")
        first.process.send_signal(signal.SIGTERM)
        code = first.process.wait(timeout=20)
    finally:
        first.stop()
        output = first.output()
        first.cleanup()
    assert code == 0, output
    assert "abandoned" in output
    assert count_orders(db, Order.send_state == "sending") == 1
    assert count_orders(db, Order.send_state == "held") == 0
    assert fake.count("add") == 1


def test_serve_without_a_worker_exits_0_on_sigterm(database_url: str) -> None:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="opensmm-serve-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "opensmm.cli.main", "serve", "--port", str(port),
             "--no-worker"],
            env=opensmm_env(database_url, **ENV), stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}", process, log)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log.read_text(errors="replace")
    log.unlink()
    assert code == 0, output
