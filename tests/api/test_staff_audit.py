"""Every staff command of the CLI writes exactly one audit row, signed ``cli:<OS user>``
through the ``cli`` door, as the back office's actions are signed by their staff member
(issue 10: audit in the services, the same rules from every door)."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from opensmm.accounts.models import ApiKey
from opensmm.audit.models import AuditEntry
from opensmm.fulfillment.states import HELD
from opensmm.orders.models import Order
from opensmm.payments import service as payment_service
from opensmm.payments.keys import panel_secret
from opensmm.refills.models import Refill
from tests.api.test_cli import Run, in_process_runner
from tests.fakepanel import FakePanel
from tests.support.panel import Panel
from tests.web.test_staff_pages import UPSTREAM_SERVICES

CLI_ACTOR = f"cli:{getpass.getuser()}"


@dataclass
class World:
    """What the commands act on, made fresh for each command."""

    panel: Panel
    upstream: FakePanel
    name: str  # a customer
    key: str  # the customer's API key
    key_id: int
    order_id: int  # a running manual order
    held_order_id: int
    refill_id: int
    held_refill_id: int
    provider: str  # a provider added through the CLI (its own audit row, before the count)
    service_id: int
    method: str  # a manual payment method
    payment_id: int  # a manual payment waiting for staff


@pytest.fixture
def in_process(panel: Panel, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with in_process_runner(panel.database_url, monkeypatch) as run:
        yield run


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakePanel]:
    with FakePanel(key="upstream-key") as fake:
        fake.on("services", UPSTREAM_SERVICES)
        fake.on("balance", {"balance": "321.5", "currency": "USD"})
        yield fake


def _order(panel: Panel, key: str, service: int) -> int:
    link = f"https://x.test/{uuid.uuid4().hex[:8]}"
    return int(panel.api(key, "add", service=service, link=link, quantity=100)["order"])


@pytest.fixture
def world(panel: Panel, upstream: FakePanel, in_process: Run) -> World:
    customer = panel.customer(balance="50")
    service = panel.service(rate="1", refill=True, cancel=True)
    order_id, held_order_id = _order(panel, customer.key, service), _order(
        panel, customer.key, service)
    refilled, held_refilled = _order(panel, customer.key, service), _order(
        panel, customer.key, service)
    panel.set_order(refilled, status="Completed")
    panel.set_order(held_refilled, status="Completed")
    refill_id = int(panel.api(customer.key, "refill", order=refilled)["refill"])
    held_refill_id = int(panel.api(customer.key, "refill", order=held_refilled)["refill"])
    with panel.write() as session:
        held = session.get(Order, held_order_id)
        held_refill = session.get(Refill, held_refill_id)
        assert held is not None and held_refill is not None
        held.send_state, held.held_reason = HELD, "timed out after sending"
        held_refill.send_state, held_refill.held_reason = HELD, "connection dropped"
        key_id = session.scalar(
            select(ApiKey.id).where(ApiKey.user_id == customer.id).order_by(ApiKey.id)
        )
        assert key_id is not None
    provider = f"p{uuid.uuid4().hex[:8]}"
    added = in_process("provider", "add", provider, upstream.url, "upstream-key", "--no-check")
    assert added.exit_code == 0, added.output
    method = fresh("bank")
    added = in_process("payment-method", "add", method, "--gateway", "manual")
    assert added.exit_code == 0, added.output
    secret = panel_secret(panel.db)
    payment = payment_service.start(panel.db, secret, user_id=customer.id, method_name=method,
                                    amount="20", base_url=panel.url,
                                    customer_reference="TRANSFER-77")
    return World(panel, upstream, customer.name, customer.key, key_id, order_id,
                 held_order_id, refill_id, held_refill_id, provider, service, method,
                 payment.payment_id)


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


Args = Callable[[World], list[str]]

# (command, the audit action it must write): one row each, no more, no less.
CASES: list[tuple[str, Args, str]] = [
    ("user create", lambda w: ["user", "create", fresh("u")], "user.create"),
    ("user create --admin", lambda w: ["user", "create", fresh("s"), "--admin"],
     "user.create_staff"),
    ("user suspend", lambda w: ["user", "suspend", w.name], "user.suspend"),
    ("user activate", lambda w: ["user", "activate", w.name], "user.activate"),
    ("key create", lambda w: ["key", "create", w.name], "key.create"),
    ("key revoke", lambda w: ["key", "revoke", w.key], "key.revoke"),
    ("key allow-ips", lambda w: ["key", "allow-ips", str(w.key_id), "203.0.113.7"],
     "key.allow_ips"),
    ("funds add", lambda w: ["funds", "add", w.name, "5", "--memo", "wire 9"], "funds.adjust"),
    ("funds add negative", lambda w: ["funds", "add", w.name, "--memo", "back", "--", "-1"],
     "funds.adjust"),
    ("service add", lambda w: ["service", "add", "--name", "S", "--category", "C", "--rate",
                               "1", "--min", "1", "--max", "10"], "service.create"),
    ("service disable", lambda w: ["service", "disable", str(w.service_id)], "service.disable"),
    ("service enable", lambda w: ["service", "enable", str(w.service_id)], "service.enable"),
    ("order set", lambda w: ["order", "set", str(w.order_id), "--status", "In progress"],
     "order.update"),
    ("order set canceled", lambda w: ["order", "set", str(w.order_id), "--status", "Canceled"],
     "order.cancel"),
    ("order resolve", lambda w: ["order", "resolve", str(w.held_order_id), "--upstream-id",
                                 "77"], "order.resolve"),
    ("order resolve --resend", lambda w: ["order", "resolve", str(w.held_order_id),
                                          "--resend"], "order.resend"),
    ("refill set", lambda w: ["refill", "set", str(w.refill_id), "--status", "Completed"],
     "refill.update"),
    ("refill resolve", lambda w: ["refill", "resolve", str(w.held_refill_id),
                                  "--upstream-id", "55"], "refill.resolve"),
    ("refill resolve --resend", lambda w: ["refill", "resolve", str(w.held_refill_id),
                                           "--resend"], "refill.resend"),
    ("provider add", lambda w: ["provider", "add", fresh("p"), w.upstream.url, "upstream-key"],
     "provider.add"),
    ("provider balance", lambda w: ["provider", "balance", w.provider], "provider.balance"),
    ("provider import", lambda w: ["provider", "import", w.provider, "--markup", "25"],
     "provider.import"),
    ("provider sync", lambda w: ["provider", "sync", w.provider], "provider.sync"),
    ("settings set", lambda w: ["settings", "set", "panel_name", fresh("Panel ")],
     "settings.set"),
    ("payment-method add", lambda w: ["payment-method", "add", fresh("m"), "--gateway",
                                      "manual", "--max", "100"], "payment_method.create"),
    ("payment-method edit", lambda w: ["payment-method", "edit", w.method, "--fee", "2"],
     "payment_method.edit"),
    ("payment-method disable", lambda w: ["payment-method", "disable", w.method],
     "payment_method.disable"),
    ("payment approve", lambda w: ["payment", "approve", str(w.payment_id)], "payment.approve"),
    ("payment reject", lambda w: ["payment", "reject", str(w.payment_id), "--reason",
                                  "not in our account"], "payment.reject"),
]


def _audit_rows(panel: Panel) -> list[AuditEntry]:
    with panel.db.read() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize(("command", "args", "action"), CASES, ids=[c[0] for c in CASES])
def test_each_staff_command_writes_one_audit_row(
    world: World, in_process: Run, command: str, args: Args, action: str
) -> None:
    before = _audit_rows(world.panel)
    result = in_process(*args(world))
    assert result.exit_code == 0, (command, result.output)
    new = _audit_rows(world.panel)[len(before):]
    assert [(row.action, row.actor, row.door, row.actor_id) for row in new] == [
        (action, CLI_ACTOR, "cli", None)
    ], command
    assert isinstance(new[0].params, dict) and new[0].params
    assert world.panel.ledger_mismatches() == []


@pytest.mark.parametrize(
    "args",
    [
        ["user", "suspend", "nobody-here"],
        ["funds", "add", "nobody-here", "5", "--memo", "m"],
        ["order", "set", "99999999", "--status", "Completed"],
        ["settings", "set", "panel_name", ""],
        ["settings", "set", "no_such_setting", "x"],
        ["key", "allow-ips", "99999999", "203.0.113.7"],
        ["payment-method", "add", "x!", "--gateway", "manual"],
        ["payment-method", "add", "card", "--gateway", "stripe"],
        ["payment-method", "add", "card", "--gateway", "nope"],
        ["payment-method", "disable", "no-such-method"],
        ["payment", "approve", "99999999"],
        ["payment", "reject", "99999999", "--reason", "nothing came"],
    ],
)
def test_a_refused_command_writes_no_audit_row(
    panel: Panel, in_process: Run, args: list[str]
) -> None:
    with panel.db.read() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    result = in_process(*args)
    assert result.exit_code == 1, result.output
    with panel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
