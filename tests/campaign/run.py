"""The fault campaign: ``python -m tests.campaign.run [--short] [--seconds N] [--clients N]``.

What runs (all on 127.0.0.1):

- an upstream panel: another opensmm (SQLite) whose services are in simulator mode, so its
  orders progress by themselves; it records every order it receives;
- the panel under test: two ``opensmm serve`` processes and two ``opensmm worker`` processes
  on a private PostgreSQL cluster, selling services bought from the upstream panel;
- hundreds of clients placing, polling, refilling and cancelling orders on both servers.

Meanwhile the campaign SIGKILLs a server or a worker at random moments (servers and workers
in turn) and restarts it, and once stops PostgreSQL (an immediate, crash-like stop) for a few
seconds. At the end it stops everything and checks the books:

- every order whose ``{"order": N}`` reached a client exists (same customer, same link);
- no order was sent upstream twice (every link is unique, so the upstream's orders per link
  count the sends), and the upstream has no order the panel does not know;
- ``opensmm ledger check`` is clean;
- what customers paid (funds given minus balances) equals charges minus refunds.

It prints its figures and exits 1 if any check fails. ``--short`` is the CI size; the long
mode is run by hand and its figures go to docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from opensmm.accounts import service as accounts
from opensmm.db import Database
from opensmm.ledger import service as ledger
from tests.campaign.checks import Books, check_books
from tests.campaign.clients import Account, Load, Stats
from tests.campaign.pg import PrivatePostgres
from tests.campaign.processes import Process, cli, opensmm_env

FUNDS = Decimal(100_000)
UPSTREAM_FUNDS = Decimal(100_000_000)


@dataclass(frozen=True)
class Plan:
    seconds: float
    clients: int
    accounts: int
    kill_gap: tuple[float, float]
    pg_down_seconds: float
    drain_seconds: float
    seed: int


SHORT = Plan(seconds=45, clients=60, accounts=20, kill_gap=(4, 8), pg_down_seconds=3,
             drain_seconds=30, seed=1)  # fmt: skip
LONG = Plan(seconds=600, clients=300, accounts=60, kill_gap=(6, 20), pg_down_seconds=5,
            drain_seconds=90, seed=2)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


WORKER_ENV = {
    "OPENSMM_WORKER_IDLE_SECONDS": "0.2",
    "OPENSMM_WORKER_POLL_SECONDS": "2",
    "OPENSMM_WORKER_LEASE_SECONDS": "5",
    "OPENSMM_WORKER_HTTP_TIMEOUT": "10",
    "OPENSMM_WORKER_BACKOFF_SECONDS": "1",
    "OPENSMM_WORKER_BACKOFF_MAX_SECONDS": "5",
    "OPENSMM_SIMULATOR_SECONDS": "3",
    # Off to leave the two cores to the load; the log line has tests of its own.
    "OPENSMM_ACCESS_LOG": "false",
}


class Campaign:
    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True)
        self.pg = PrivatePostgres(work / "pg", free_port())
        self.upstream_url = f"sqlite:///{work / 'upstream.db'}"
        self.processes: list[Process] = []
        self.pg_down_at: float | None = None
        self.events: list[str] = []
        self.started = 0.0

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - self.started if self.started else 0.0
        line = f"[{elapsed:6.1f}s] {message}"
        self.events.append(line)
        print(line, flush=True)

    # --- set-up ------------------------------------------------------------------------
    def set_up(self) -> tuple[list[Account], list[int], int]:
        self.say("creating the private PostgreSQL cluster and the upstream panel")
        self.pg.create()
        cli(self.upstream_url, "db", "upgrade")
        upstream_services = [
            json.loads(cli(self.upstream_url, "service", "add", "--name", name, "--category",
                           "Campaign", "--rate", rate, "--min", "10", "--max", "100000",
                           "--mode", "simulator", "--cancel", "--refill", "--json"))["id"]
            for name, rate in (("Followers", "0.5"), ("Likes", "0.2"))
        ]  # fmt: skip
        upstream_db = Database(self.upstream_url)
        with upstream_db.write() as session:
            reseller = accounts.create_user(session, "reseller")
            ledger.add_funds(session, reseller.id, UPSTREAM_FUNDS, memo="campaign", actor="c")
            upstream_key = accounts.create_key(session, reseller).key
            upstream_user = reseller.id
        upstream_db.dispose()
        port = free_port()
        upstream = Process(
            "upstream", ["serve", "--port", str(port)],
            opensmm_env(self.upstream_url, **WORKER_ENV), self.logs,
            health_url=f"http://127.0.0.1:{port}/healthz",
        )  # fmt: skip
        upstream.start()
        self.upstream = upstream

        cli(self.pg.url, "db", "upgrade")
        cli(self.pg.url, "provider", "add", "up", f"http://127.0.0.1:{port}/api/v2", upstream_key)
        services = [
            json.loads(cli(self.pg.url, "service", "add", "--name", f"Resold {number}",
                           "--category", "Campaign", "--rate", rate, "--min", "100", "--max",
                           "10000", "--mode", "provider", "--provider", "up",
                           "--provider-service", str(upstream_id), "--cancel", "--refill",
                           "--json"))["id"]
            for number, (upstream_id, rate) in enumerate(
                zip(upstream_services, ("0.9", "0.4"), strict=True)
            )
        ]  # fmt: skip
        panel_db = Database(self.pg.url)
        customers = []
        with panel_db.write() as session:
            for number in range(self.plan.accounts):
                user = accounts.create_user(session, f"reseller{number}")
                ledger.add_funds(session, user.id, FUNDS, memo="campaign", actor="campaign")
                customers.append(
                    Account(user.id, user.name, accounts.create_key(session, user).key)
                )
        panel_db.dispose()

        env = opensmm_env(self.pg.url, **WORKER_ENV)
        for number in (1, 2):
            port = free_port()
            self.processes.append(Process(
                f"server{number}", ["serve", "--no-worker", "--port", str(port)], env, self.logs,
                health_url=f"http://127.0.0.1:{port}/healthz",
            ))  # fmt: skip
        for number in (1, 2):
            self.processes.append(Process(f"worker{number}", ["worker"], env, self.logs))
        for process in self.processes:
            process.start()
        return customers, services, upstream_user

    @property
    def api_urls(self) -> list[str]:
        return [p.health_url.replace("/healthz", "/api/v2") for p in self.servers]  # type: ignore[union-attr]

    @property
    def servers(self) -> list[Process]:
        return [p for p in self.processes if p.name.startswith("server")]

    @property
    def workers(self) -> list[Process]:
        return [p for p in self.processes if p.name.startswith("worker")]

    # --- faults --------------------------------------------------------------------------
    def chaos(self, stop: threading.Event) -> None:
        rng = random.Random(self.plan.seed)
        pg_at = self.plan.seconds * 0.4
        kinds = [self.servers, self.workers]
        turn = 0
        while not stop.wait(rng.uniform(*self.plan.kill_gap)):
            if self.pg_down_at is None and time.monotonic() - self.started >= pg_at:
                self.say("PostgreSQL: immediate stop")
                self.pg.stop("immediate")
                self.pg_down_at = time.monotonic()
                time.sleep(self.plan.pg_down_seconds)
                self.pg.start()
                self.say(f"PostgreSQL: started again after {self.plan.pg_down_seconds:.0f} s")
                continue
            victim = rng.choice(kinds[turn % 2])
            turn += 1
            victim.kill()
            self.say(f"SIGKILL {victim.name}")
            time.sleep(rng.uniform(0.2, 2.0))
            victim.start()
            self.say(f"restarted {victim.name}")

    def run_load(self, customers: list[Account], services: list[int]) -> Stats:
        load = Load(self.api_urls, customers, services, self.plan.clients, self.plan.seed)
        stop_chaos = threading.Event()
        chaos = threading.Thread(target=self.chaos, args=(stop_chaos,), daemon=True)

        async def main() -> Stats:
            stop = asyncio.Event()
            task = asyncio.create_task(load.run(stop))
            await asyncio.sleep(self.plan.seconds)
            stop.set()
            return await task

        self.say(f"load: {self.plan.clients} clients for {self.plan.seconds:.0f} s")
        chaos.start()
        try:
            stats = asyncio.run(main())
        finally:
            stop_chaos.set()
            chaos.join()
        self.say(f"load over: {stats.requests} requests")
        return stats

    def drain(self) -> None:
        """Let the workers send what is still new (not needed by the checks: for the figures)."""
        from sqlalchemy import func, select

        from opensmm.orders.models import Order

        for process in self.processes:
            if not process.alive:
                process.start()
        db = Database(self.pg.url)
        deadline = time.monotonic() + self.plan.drain_seconds
        try:
            while time.monotonic() < deadline:
                with db.read() as session:
                    waiting = session.scalar(
                        select(func.count()).select_from(Order).where(Order.send_state == "new")
                    )
                if not waiting:
                    break
                time.sleep(1)
        finally:
            db.dispose()

    def tear_down(self) -> None:
        for process in [*self.processes, getattr(self, "upstream", None)]:
            if process is not None:
                process.stop()


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items()))


def report(plan: Plan, campaign: Campaign, stats: Stats, books: Books, ledger_cli: str) -> dict:
    kills = {p.name: p.kills for p in campaign.processes}
    restarts = sum(p.starts - 1 for p in campaign.processes)
    server_kills = sum(p.kills for p in campaign.servers)
    worker_kills = sum(p.kills for p in campaign.workers)
    figures = {
        "mode": "short" if plan is SHORT else "long",
        "seconds": plan.seconds,
        "clients": plan.clients,
        "requests": stats.requests,
        "outcomes": dict(stats.outcomes),
        "actions": dict(stats.actions),
        "kills": server_kills + worker_kills,
        "server_kills": server_kills,
        "worker_kills": worker_kills,
        "restarts": restarts,
        "postgres_stops": campaign.pg.stops,
        "orders_acknowledged": books.acknowledged,
        "orders_found": books.found,
        "orders_missing": len(books.missing),
        "adds_in_doubt": stats.adds_in_doubt,
        "orders_in_db": books.orders_in_db,
        "sent_upstream": books.sent_upstream,
        "held": books.held,
        "held_but_at_upstream": books.held_but_at_upstream,
        "not_yet_sent": books.not_yet_sent,
        "upstream_orders": books.upstream_orders,
        "double_sends": books.double_sends,
        "upstream_unknown": books.upstream_unknown,
        "upstream_id_mismatches": books.upstream_id_mismatches,
        "ledger_differences": books.ledger_differences,
        "paid": str(books.paid),
        "charged": str(books.charged),
        "refunded": str(books.refunded),
        "money_difference": str(books.money_difference),
        "statuses": dict(books.statuses),
        "send_states": dict(books.send_states),
        "pass": books.ok and ledger_cli.startswith("Ledger OK"),
    }
    outcomes = ", ".join(f"{name} {count}" for name, count in stats.outcomes.most_common())
    actions = ", ".join(f"{name} {count}" for name, count in stats.actions.most_common())
    print(
        f"""
==== campaign ({figures["mode"]}): {plan.seconds:.0f} s, {plan.clients} clients, \
2 servers + 2 workers on PostgreSQL, upstream: an opensmm panel in simulator mode
requests:            {stats.requests} ({outcomes})
by action:           {actions}
kills (SIGKILL):     {figures["kills"]} (servers {server_kills}, workers {worker_kills}): {kills}
restarts:            {restarts}
PostgreSQL stops:    {campaign.pg.stops} (immediate, {plan.pg_down_seconds:.0f} s down)
orders acknowledged: {books.acknowledged}; found {books.found}; missing {len(books.missing)}
adds in doubt:       {stats.adds_in_doubt} (connection lost after sending: not promised)
orders in database:  {books.orders_in_db} ({_counts(books.statuses)})
send state/status:   {_counts(books.send_states)}
sent upstream:       {books.sent_upstream}; held for a person {books.held} (of which at the \
upstream: {books.held_but_at_upstream}); not yet sent {books.not_yet_sent}
upstream orders:     {books.upstream_orders}; double sends {books.double_sends}; unknown \
here {books.upstream_unknown}; id mismatches {books.upstream_id_mismatches}
ledger check:        {ledger_cli.strip()} (differences: {books.ledger_differences})
money:               customers paid {books.paid} = charges {books.charged} - refunds \
{books.refunded} (difference {books.money_difference})
RESULT:              {"PASS" if figures["pass"] else "FAIL"}
""",
        flush=True,
    )
    if books.missing:
        print(f"missing orders: {books.missing[:50]}")
    print("CAMPAIGN-JSON " + json.dumps(figures), flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI size (about 2 minutes)")
    parser.add_argument("--seconds", type=float, help="how long the load runs")
    parser.add_argument("--clients", type=int, help="concurrent clients")
    parser.add_argument("--seed", type=int, help="random seed (traffic and faults)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    args = parser.parse_args(argv)
    plan = SHORT if args.short else LONG
    changes = {k: v for k, v in (("seconds", args.seconds), ("clients", args.clients),
                                 ("seed", args.seed)) if v is not None}  # fmt: skip
    if changes:
        plan = Plan(**{**plan.__dict__, **changes})
    work = Path(tempfile.mkdtemp(prefix="opensmm-campaign-"))
    campaign = Campaign(plan, work)
    print(f"work folder: {work}", flush=True)
    try:
        customers, services, upstream_user = campaign.set_up()
        campaign.started = time.monotonic()
        stats = campaign.run_load(customers, services)
        campaign.say("draining: letting the workers send what is still new")
        campaign.drain()
        campaign.tear_down()
        ledger_cli = cli(campaign.pg.url, "ledger", "check")
        panel_db, upstream_db = Database(campaign.pg.url), Database(campaign.upstream_url)
        try:
            books = check_books(panel_db, upstream_db, upstream_user, customers, FUNDS,
                                stats.acknowledged)  # fmt: skip
        finally:
            panel_db.dispose()
            upstream_db.dispose()
        figures = report(plan, campaign, stats, books, ledger_cli)
    finally:
        campaign.tear_down()
        campaign.pg.destroy()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if figures["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
