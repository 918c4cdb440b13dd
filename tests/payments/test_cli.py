"""``opensmm payment-method`` and ``opensmm payment`` against a running panel's database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from opensmm.payments import service
from opensmm.payments.keys import panel_secret
from tests.api.test_cli import Run, in_process_runner
from tests.support.panel import Panel

SECRET = "sk_test_0123456789abcdefWXYZ"


@pytest.fixture
def run(panel: Panel, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with in_process_runner(panel.database_url, monkeypatch) as runner:
        yield runner


def test_a_method_is_added_listed_and_its_credentials_never_shown(
    run: Run, panel: Panel
) -> None:
    added = run("payment-method", "add", "card", "--gateway", "stripe", "--fee", "2.9",
                "--bonus", "5", "--bonus-from", "100", "--min", "5", "--max", "2000",
                "--set", f"secret_key={SECRET}", "--set", "webhook_secret=whsec_abcdef123456",
                "--base-url", "https://panel.example/")
    assert added.exit_code == 0, added.output
    assert "https://panel.example/payments/callback/card" in added.output
    listed = run("payment-method", "list", "--json")
    assert SECRET not in listed.output and "whsec_abcdef123456" not in listed.output
    [card] = [m for m in json.loads(listed.output)["methods"] if m["name"] == "card"]
    assert card["settings"] == {"secret_key": "set, ends in …WXYZ",
                                "webhook_secret": "set, ends in …3456"}
    assert (card["min"], card["max"], card["fee_percent"]) == ("5.00000", "2000.00000",
                                                               "2.90000")
    with panel.db.read() as session:
        stored = session.execute(
            text("SELECT settings FROM payment_methods WHERE name = 'card'")).scalar_one()
    assert SECRET not in str(stored)  # encrypted at rest
    plain = run("payment-method", "list")
    assert "card  stripe  enabled" in plain.output and SECRET not in plain.output


@pytest.mark.parametrize(("args", "message"), [
    (["--gateway", "stripe"], "secret_key' is required"),
    (["--gateway", "nope"], "Unknown gateway nope"),
    (["--gateway", "manual", "--set", "api_key=x"], "manual has no setting api_key"),
    (["--gateway", "manual", "--fee", "100"], "percentage from 0 to less than 100"),
    (["--gateway", "manual", "--min", "10", "--max", "5"], "must not be below the minimum"),
    (["--gateway", "manual", "--min", "abc"], "--min: not an amount"),
    (["--gateway", "manual", "--set", "novalue"], "KEY=VALUE"),
    (["--gateway", "manual", "--instructions", "xx=hello"], "Unknown language xx"),
])
def test_bad_methods_are_refused_with_one_clear_line(
    run: Run, args: list[str], message: str
) -> None:
    result = run("payment-method", "add", "m-bad", *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert "m-bad" not in run("payment-method", "list").output


def test_manual_payments_are_listed_approved_with_the_amount_received_and_rejected(
    run: Run, panel: Panel
) -> None:
    assert run("payment-method", "add", "wire", "--gateway", "manual").exit_code == 0
    customer = panel.customer()
    secret = panel_secret(panel.db)
    first, second = (
        service.start(panel.db, secret, user_id=customer.id, method_name="wire", amount=amount,
                      base_url=panel.url, customer_reference=f"WIRE-{amount}").payment_id
        for amount in ("30", "40")
    )
    listed = json.loads(run("payment", "list", "--user", customer.name, "--json").output)
    assert [(p["id"], p["state"], p["reference"]) for p in listed["payments"]] == [
        (second, "pending", "WIRE-40"), (first, "pending", "WIRE-30")]
    approved = run("payment", "approve", str(first), "--amount", "29.50")
    assert approved.exit_code == 0, approved.output
    assert panel.balance(customer) == Decimal("29.50")
    again = run("payment", "approve", str(first))
    assert again.exit_code == 1 and "is paid already" in again.output
    assert run("payment", "reject", str(second), "--reason", "no").exit_code == 1
    assert run("payment", "reject", str(second), "--reason", "not received").exit_code == 0
    rows = json.loads(run("payment", "list", "--user", customer.name, "--json").output)
    assert [(p["state"], p["credited"]) for p in rows["payments"]] == [
        ("failed", "0.00000"), ("paid", "29.50000")]
    only_paid = json.loads(run("payment", "list", "--status", "paid", "--json").output)
    assert {p["id"] for p in only_paid["payments"]} >= {first}
    assert second not in {p["id"] for p in only_paid["payments"]}
    assert run("payment", "list", "--status", "nope").exit_code == 1
    assert panel.ledger_mismatches() == []
