"""Two real opensmm panels on 127.0.0.1: A (a reseller) forwards to B (its upstream).

One burst of forwarding, with A (its worker mid-send) and B (requests on the wire) killed
by SIGKILL together: in-doubt sends are resent with their idempotency key, so nothing is
held, B has each order once, and the money is exact on both panels. A comes back as
``serve --workers 2``. Then B's status webhooks reach A, which applies them without polling
(its poll interval is an hour), refunds included; a forged POST is refused. Last, SIGTERM
stops A's two processes with exit 0 and nothing held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from opensmm.accounts import staff as accounts_staff
from opensmm.audit.actor import Actor
from opensmm.db import Database
from opensmm.orders.models import Order, OrderEvent
from opensmm.providers import service as providers
from opensmm.providers import staff as providers_staff
from opensmm.providers import webhooks
from tests.fulfillment import helpers as h
from tests.fulfillment.processes import WORKER_ENV, count_orders, wait_until
from tests.support.databases import KINDS
from tests.support.panel import Panel, free_port, opensmm_env, running_panel, wait_until_up

ORDERS = 60
A_ENV = {**WORKER_ENV, "OPENSMM_WORKER_POLL_SECONDS": "3600"}  # statuses come by webhook
B_ENV = {**WORKER_ENV, "OPENSMM_WEBHOOKS_ALLOW_PRIVATE": "1"}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _serve(panel: Panel, port: int, *args: str, env: dict[str, str], wait: bool = True) -> None:
    """``opensmm serve`` on a given port (a restart keeps the address others know)."""
    panel.url = f"http://127.0.0.1:{port}"
    panel.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"opensmm-chain-{port}.log"
    with panel.log_path.open("ab") as log:
        panel.process = subprocess.Popen(
            [sys.executable, "-m", "opensmm.cli.main", "serve", "--port", str(port), *args],
            env=opensmm_env(panel.database_url, **env), stdout=log, stderr=subprocess.STDOUT,
        )
    if wait:
        _wait_up(panel)


def _wait_up(panel: Panel) -> None:
    assert panel.process is not None and panel.log_path is not None
    wait_until_up(panel.url, panel.process, panel.log_path, seconds=120)


def _kill(panel: Panel) -> None:
    assert panel.process is not None
    panel.process.send_signal(signal.SIGKILL)
    panel.process.wait(timeout=30)
    panel.process = None


@pytest.fixture
def chain(kind: str, database_servers: dict) -> Iterator[tuple[Panel, Panel]]:
    server = database_servers[kind]
    url = server.new_database()
    reseller = Panel(kind=kind, database_url=url, db=Database(url))
    with running_panel(database_servers, kind, env=B_ENV) as upstream:
        try:
            yield reseller, upstream
        finally:
            if reseller.process is not None and reseller.process.poll() is None:
                reseller.stop()
            reseller.db.dispose()
            server.drop(url)


def _events(db: Database, code: str) -> int:
    with db.read() as session:
        query = select(func.count()).select_from(OrderEvent).where(OrderEvent.code == code)
        return int(session.scalar(query) or 0)


def _b_orders(b: Panel) -> dict[int, str]:
    with b.db.read() as session:
        return {row.id: row.link for row in session.execute(select(Order.id, Order.link))}


def test_a_chain_survives_sigkills_and_follows_webhooks(chain: tuple[Panel, Panel]) -> None:
    a, b = chain
    reseller_at_b = b.customer(1000)
    b_service = b.service(rate=Decimal("1.00"), min_quantity=10)
    checked = providers.probe(b.api_url, reseller_at_b.key)
    assert checked.idempotent  # B announces it: A may resend in-doubt sends
    with a.db.write() as session:
        provider = providers_staff.add_provider(
            session, Actor.cli(), "b", b.api_url, reseller_at_b.key, checked.balance,
            checked.idempotent)
        provider_id = provider.id
    a_service = h.provider_service(a.db, provider_id, b_service, rate=Decimal("2.00"))
    who = h.customer(a.db, "100")
    ids = [h.place(a.db, who, a_service, 100, link=f"https://x.test/{n}") for n in range(ORDERS)]

    # The burst: A and B are killed together while sends are on the wire, and restarted.
    port_a, port_b = free_port(), int(b.url.rsplit(":", 1)[1])
    _serve(a, port_a, env=A_ENV)
    wait_until(lambda: count_orders(a.db, Order.send_state == "sending") > 0, "a send on the wire",
               seconds=60)
    _kill(a)
    _kill(b)
    assert count_orders(a.db, Order.send_state == "sent") < ORDERS  # killed mid-burst
    _serve(b, port_b, env=B_ENV, wait=False)
    _serve(a, port_a, "--workers", "2", env=A_ENV, wait=False)  # two processes from now on
    _wait_up(b)
    _wait_up(a)
    wait_until(lambda: count_orders(a.db, Order.send_state == "sent") == ORDERS,
               "every order sent", seconds=90)

    assert count_orders(a.db, Order.send_state == "held") == 0, a.server_log()
    assert _events(a.db, "order.resending") >= 1  # in doubt, and resent with the key
    at_b = _b_orders(b)
    with a.db.read() as session:
        sent = dict(session.execute(select(Order.upstream_id, Order.link)
                                    .where(Order.id.in_(ids))).all())
    assert len(at_b) == ORDERS and sent == at_b  # each order once at B, and A knows which
    assert h.balance(a.db, who) == Decimal("100") - ORDERS * Decimal("0.20")
    assert b.balance(reseller_at_b) == Decimal("1000") - ORDERS * Decimal("0.10")

    # Webhooks: B tells A; A's one-hour poll interval means only they can move the orders.
    hook = f"{a.url}{webhooks.path_for(provider_id)}"
    with b.db.write() as session:
        secret = accounts_staff.set_webhook(session, Actor.cli(), _key_id(b, reseller_at_b.id),
                                            hook, _panel_secret(b))
    assert secret is not None
    shown = a.cli("provider", "webhook", "b", "--secret", secret).stdout
    assert "secret stored" in shown and webhooks.path_for(provider_id) in shown
    first, second = sorted(at_b)[:2]
    b.set_order(first, status="Completed")
    b.set_order(second, status="Partial", remains=40)
    by_upstream = {upstream: order for order, upstream in _upstream_ids(a.db).items()}
    wait_until(lambda: h.get_order(a.db, by_upstream[second]).status == "Partial"
               and h.get_order(a.db, by_upstream[first]).status == "Completed",
               "B's webhooks applied at A", seconds=60)
    assert h.get_order(a.db, by_upstream[second]).remains == 40
    assert h.get_provider(a.db, provider_id).webhook_at is not None
    forged = httpx.post(hook, content=b'{"order": %d, "status": "Canceled"}' % first,
                        headers={webhooks.HEADER: f"t={int(time.time())},v1={'0' * 64}"})
    assert forged.status_code == 401
    assert h.balance(a.db, who) == Decimal("100") - ORDERS * Decimal("0.20") + Decimal("0.08")
    assert b.balance(reseller_at_b) == Decimal("1000") - ORDERS * Decimal("0.10") + Decimal(
        "0.04")
    assert a.ledger_mismatches() == [] and b.ledger_mismatches() == []

    # A two-process serve stops cleanly on SIGTERM.
    assert a.process is not None
    a.process.send_signal(signal.SIGTERM)
    assert a.process.wait(timeout=60) == 0, a.server_log()
    a.process = None
    assert count_orders(a.db, Order.send_state.in_(("held", "sending"))) == 0


def _key_id(b: Panel, user_id: int) -> int:
    from opensmm.accounts.models import ApiKey

    with b.db.read() as session:
        return int(session.scalar(select(ApiKey.id).where(ApiKey.user_id == user_id)) or 0)


def _panel_secret(b: Panel) -> str:
    from opensmm.payments.keys import panel_secret

    return panel_secret(b.db)


def _upstream_ids(db: Database) -> dict[int, int]:
    with db.read() as session:
        rows = session.execute(select(Order.id, Order.upstream_id)).all()
    return {order: int(upstream or 0) for order, upstream in rows}
