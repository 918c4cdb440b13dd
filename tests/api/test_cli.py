"""The ``opensmm`` staff commands of the issue and their effect on what the API answers.

Each command's working path runs as a person runs it: a subprocess (``panel.cli``). The
refusal matrices run the same Typer app in this process (``in_process``): a subprocess
costs about a second of start-up, and a refusal's exit code, message and absence of a
traceback are the same either way. Refusals must exit non-zero with a one-line
``error: …`` and no traceback, and change nothing.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner
from typer.testing import Result as CliResult

from opensmm.accounts import service as accounts
from opensmm.catalog.models import Service
from opensmm.cli.main import app
from opensmm.db import Database, get_database
from opensmm.ledger import service as ledger
from opensmm.settings import get_settings
from tests.api.helpers import LINK, footprint, place
from tests.support.panel import Customer, Panel, run_cli

Outcome = subprocess.CompletedProcess[str] | CliResult


def refused(result: Outcome, message: str, code: int = 1) -> None:
    """Exit ``code``, ``message`` on stderr, and no traceback (nor an escaped exception)."""
    if isinstance(result, CliResult):
        exit_code = result.exit_code
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
    else:
        exit_code = result.returncode
    assert exit_code == code, (exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert message in result.stderr, result.stderr


Run = Callable[..., CliResult]


@contextmanager
def in_process_runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("OPENSMM_DATABASE_URL", database_url)
    get_settings.cache_clear()  # the CLI reads its database URL through the settings
    runner = CliRunner()
    try:
        yield lambda *args: runner.invoke(app, list(args))
    finally:
        get_database(database_url).dispose()
        get_settings.cache_clear()


@pytest.fixture
def in_process(panel: Panel, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """``opensmm ARGS`` on the panel's database, in this process."""
    with in_process_runner(panel.database_url, monkeypatch) as run:
        yield run


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def cli_json(panel: Panel, *args: str) -> dict[str, object]:
    result = panel.cli(*args, "--json")
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def service_count(panel: Panel) -> int:
    with panel.db.read() as session:
        return session.scalar(select(func.count(Service.id))) or 0


def test_user_key_and_funds_commands_drive_the_api(panel: Panel, in_process: Run) -> None:
    name = unique("cli")
    created = cli_json(panel, "user", "create", name)
    assert created == {"id": created["id"], "name": name, "admin": False}
    key = cli_json(panel, "key", "create", name)
    assert set(key) == {"id", "user", "key"} and key["user"] == name
    api_key = str(key["key"])
    assert panel.api(api_key, "balance") == {"balance": "0.00", "currency": "USD"}

    added = cli_json(panel, "funds", "add", name, "10.5", "--memo", "wire 1")
    assert added == {
        "user": name,
        "amount": "10.50",
        "balance": "10.50",
        "idempotency_key": added["idempotency_key"],
        "replayed": False,
    }
    # a negative amount is an amount, not an option
    removed = panel.cli("funds", "add", name, "-0.50001", "--memo", "correction")
    assert removed.stdout.strip().splitlines()[-1] == f"{name}: balance 9.99999"
    assert panel.api(api_key, "balance")["balance"] == "9.99999"

    customer = Customer(int(str(created["id"])), name, api_key)
    before = footprint(panel, customer)
    nobody = "nobody-" + name
    for args, message in (
        (("funds", "add", name, "-10", "--memo", "m"), "Not enough funds on balance"),
        (("funds", "add", name, "0", "--memo", "m"), "The amount must not be zero"),
        (("funds", "add", name, "5"), "A memo is required"),
        (("funds", "add", nobody, "5"), f"No user named {nobody!r}"),
        (("user", "create", name), f"The user name {name!r} is taken"),
        (("user", "create", "bad name!"), "A user name is 2-64 letters"),
        (("user", "suspend", nobody), f"No user named {nobody!r}"),
        (("user", "activate", nobody), f"No user named {nobody!r}"),
        (("key", "create", nobody), f"No user named {nobody!r}"),
        (("key", "revoke", "x" * 40), "API key not found"),
    ):
        refused(in_process(*args), message)
    assert footprint(panel, customer) == before
    assert panel.ledger_mismatches() == []


def test_suspend_activate_and_revoke_take_effect_on_the_next_request(panel: Panel) -> None:
    customer = panel.customer(balance="5")
    suspended = panel.cli("user", "suspend", customer.name)
    assert suspended.stdout.strip() == f"{customer.name} is now suspended"
    assert panel.api(customer.key, "balance") == {"error": "Your account is suspended"}
    activated = panel.cli("user", "activate", customer.name)
    assert activated.stdout.strip() == f"{customer.name} is now active"
    assert panel.api(customer.key, "balance")["balance"] == "5.00"
    assert panel.cli("key", "revoke", customer.key).stdout.strip() == "Key revoked"
    assert panel.api(customer.key, "balance") == {"error": "Invalid API key"}


def test_service_add_and_list(panel: Panel, in_process: Run) -> None:
    customer = panel.customer(balance="10")
    name = unique("Views ")
    options = ["--category", "YouTube", "--rate", "1.25", "--min", "100", "--max", "5000"]
    options += ["--refill-days", "7"]
    flags = ["--refill", "--cancel", "--dripfeed", "--description", "Fast views"]
    added = cli_json(panel, "service", "add", "--name", name, *options, *flags)
    assert set(added) == {"id"}
    service = int(str(added["id"]))
    listed = {s["service"]: s for s in panel.api(customer.key, "services")}
    assert listed[service] == {
        "service": service,
        "name": name,
        "type": "Default",
        "category": "YouTube",
        "rate": "1.25",
        "min": "100",
        "max": "5000",
        "refill": True,
        "cancel": True,
        "dripfeed": True,
        "desc": "Fast views",
    }
    package_options = ["--category", "YouTube", "--rate", "3", "--min", "1", "--max", "1"]
    package_options += ["--type", "Package"]
    package = panel.cli("service", "add", "--name", unique("Pack "), *package_options)
    package_id = int(package.stdout.strip())
    catalog = cli_json(panel, "service", "list")
    assert isinstance(catalog["services"], list)
    by_id = {s["id"]: s for s in catalog["services"]}
    assert by_id[service]["rate"] == "1.25"
    assert by_id[service]["refill_days"] == 7
    assert by_id[package_id]["type"] == "Package"
    place(panel, customer, package_id)
    assert panel.balance(customer) == Decimal("7")

    count = service_count(panel)
    base = ("service", "add", "--name", "X", "--category", "C")
    for args, message in (
        (("--rate", "1", "--min", "1", "--max", "10", "--type", "Bogus"), "Unknown service type"),
        (("--rate", "-1", "--min", "1", "--max", "10"), "The rate must not be negative"),
        (("--rate", "1", "--min", "10", "--max", "5"), "must not be less than the minimum (10)"),
        (("--rate", "1", "--min", "0", "--max", "5"), "must be at least 1"),
        (
            ("--rate", "1", "--min", "1", "--max", "5", "--refill-days", "99999"),
            "Refill days must be between 0 and 3650",
        ),
    ):
        refused(in_process(*base, *args), message)
    assert service_count(panel) == count


def test_order_list_set_and_refill_set_refusals(panel: Panel, in_process: Run) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate="1", refill=True)
    first = place(panel, customer, service, quantity=100, link=LINK + "/1")
    second = place(panel, customer, service, quantity=200, link=LINK + "/2")
    panel.set_order(second, status="Completed")
    refill = int(panel.api(customer.key, "refill", order=second)["refill"])

    listed = cli_json(panel, "order", "list", "--user", customer.name)
    assert isinstance(listed["orders"], list)
    assert [o["id"] for o in listed["orders"]] == [second, first]
    newest = listed["orders"][0]
    assert {k: newest[k] for k in ("user", "service", "link", "quantity", "charge", "status")} == {
        "user": customer.name,
        "service": service,
        "link": LINK + "/2",
        "quantity": 200,
        "charge": "0.20",
        "status": "Completed",
    }
    pending = cli_json(panel, "order", "list", "--user", customer.name, "--status", "pending")
    assert isinstance(pending["orders"], list)
    assert [o["id"] for o in pending["orders"]] == [first]

    before = footprint(panel, customer)
    huge = "99999999999999999999999"
    text_list = in_process("order", "list", "--user", customer.name)
    assert text_list.exit_code == 0
    assert str(first) in text_list.stdout and str(second) in text_list.stdout
    for args, message in (
        (("order", "set", "987654321", "--status", "Completed"), "Incorrect order ID"),
        (("order", "set", huge, "--status", "Completed"), "Incorrect order ID"),
        (("order", "set", str(first), "--status", "Bogus"), "Unknown status 'Bogus'"),
        (
            ("order", "set", str(first), "--status", "Partial", "--remains", "0"),
            "Partial needs remains above zero",
        ),
        (("order", "set", str(first), "--remains", "-1"), "Remains must be between 0 and 100"),
        (("order", "set", str(first), "--remains", "101"), "Remains must be between 0 and 100"),
        (("refill", "set", "987654321", "--status", "Completed"), "Refill not found"),
        (("refill", "set", huge, "--status", "Completed"), "Refill not found"),
        (("refill", "set", str(refill), "--status", "Bogus"), "Unknown refill status 'Bogus'"),
    ):
        refused(in_process(*args), message)
    assert footprint(panel, customer) == before
    assert panel.api(customer.key, "refill_status", refill=refill) == {"status": "Pending"}


def test_ledger_check(database_url: str) -> None:
    """On a database of its own: the test breaks a balance on purpose."""
    name = unique("led")
    database = Database(database_url)
    try:
        with database.write() as session:
            user = accounts.create_user(session, name)
            ledger.add_funds(session, user.id, Decimal("12.34567"), memo="", actor="test")
        clean = run_cli(database_url, "ledger", "check", check=False)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert clean.stdout.strip() == "Ledger OK: every balance equals the sum of its entries"
        with database.write() as session:
            # ledger entries are append-only, but a balance can be changed behind their back
            session.execute(
                text("UPDATE users SET balance = balance + 100000 WHERE name = :name"),
                {"name": name},
            )
    finally:
        database.dispose()
    broken = run_cli(database_url, "ledger", "check", check=False)
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr
    assert f"MISMATCH user {name} " in broken.stdout
    assert "balance 13.34567, entries add up to 12.34567" in broken.stdout


def test_input_errors_are_refused_before_any_database_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad arguments need no database: they run once, not once per database kind."""
    url = f"sqlite:///{tmp_path / 'never-created.db'}"
    rate = ("service", "add", "--name", "X", "--category", "C", "--min", "1", "--max", "2")
    with in_process_runner(url, monkeypatch) as run:
        refused(run("funds", "add", "someone", "abc"), "Incorrect amount 'abc'")
        refused(run("funds", "add", "someone", "1.000001"), "at most 5 decimal places")
        refused(run(*rate, "--rate", "abc"), "Incorrect rate 'abc'")
        refused(run("order", "list", "--status", "Bogus"), "Unknown status 'Bogus'")
        refused(run("order", "set", "1"), "Nothing to set")
        refused(run("order", "set", "abc", "--status", "Completed"), "Invalid value for 'ID'", 2)
        refused(run("order", "set"), "Usage:", 2)
        refused(run("nonsense"), "Usage:", 2)
    # the same, as a person types it: usage errors and refusals alike, no traceback
    refused(run_cli(url, "funds", "add", "someone", "abc", check=False), "Incorrect amount")
    refused(run_cli(url, "funds", "add", check=False), "Usage:", 2)
    assert not (tmp_path / "never-created.db").exists()
