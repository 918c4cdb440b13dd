"""Staff deposits that can be replayed (issue 10): the back-office form's one-time token and
``opensmm funds add --idempotency-key`` make the ledger key ``deposit:{key}``, so a double
submit, a parallel double submit or a retried command credits once, on both databases."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from opensmm.audit.models import AuditEntry
from opensmm.ledger.models import DEPOSIT, LedgerEntry
from tests.api.test_cli import Run, in_process_runner, refused
from tests.support.panel import Panel
from tests.web.support import Person, WebClient, csrf_of, deposit_key_of, make_person


@pytest.fixture
def in_process(panel: Panel, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with in_process_runner(panel.database_url, monkeypatch) as run:
        yield run


@pytest.fixture
def staff(panel: Panel, visitor: WebClient) -> Person:
    person = make_person(panel, staff=True)
    visitor.login(person)
    return person


def deposits_of(panel: Panel, user_id: int) -> list[tuple[str, Decimal]]:
    with panel.db.read() as session:
        rows = session.execute(
            select(LedgerEntry.key, LedgerEntry.amount)
            .where(LedgerEntry.user_id == user_id, LedgerEntry.kind == DEPOSIT)
            .order_by(LedgerEntry.id)
        ).all()
        return [(key, amount) for key, amount in rows]


def audit_rows(panel: Panel, target: str) -> int:
    with panel.db.read() as session:
        return session.scalar(
            select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "funds.adjust", AuditEntry.target == target
            )
        ) or 0


def ledger_check_is_clean(panel: Panel) -> None:
    assert panel.ledger_mismatches() == []
    assert panel.cli("ledger", "check").returncode == 0


# --- the CLI ------------------------------------------------------------------------------------
def test_a_retried_funds_add_credits_once(panel: Panel) -> None:
    customer = make_person(panel)
    first = json.loads(panel.cli("funds", "add", customer.name, "10", "--memo", "wire 1",
                                 "--json").stdout)
    key = first["idempotency_key"]
    assert first["replayed"] is False and first["balance"] == "10.00"
    again = panel.cli("funds", "add", customer.name, "10", "--memo", "wire 1",
                      "--idempotency-key", key)
    assert f"Already done with idempotency key {key}: nothing credited again" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == f"{customer.name}: balance 10.00"
    # The key was printed by the plain output too, for a person to retry with.
    plain = panel.cli("funds", "add", customer.name, "1", "--memo", "wire 2")
    printed = plain.stdout.split("Idempotency key ")[1].split(" ")[0]
    assert deposits_of(panel, customer.id) == [
        (f"deposit:{key}", Decimal("10")), (f"deposit:{printed}", Decimal("1"))
    ]
    assert audit_rows(panel, f"user:{customer.id}") == 2
    ledger_check_is_clean(panel)


def test_the_same_key_for_another_user_or_amount_is_refused(
    panel: Panel, in_process: Run
) -> None:
    customer, other = make_person(panel), make_person(panel)
    key = "retry-key-0001"
    assert in_process("funds", "add", customer.name, "5", "--memo", "m",
                      "--idempotency-key", key).exit_code == 0
    for name, amount in ((customer.name, "6"), (other.name, "5"), (customer.name, "-5")):
        refused(in_process("funds", "add", name, "--memo", "m", "--idempotency-key", key,
                           "--", amount), "already used for another deposit")
    assert deposits_of(panel, customer.id) == [(f"deposit:{key}", Decimal("5"))]
    assert deposits_of(panel, other.id) == []
    assert audit_rows(panel, f"user:{customer.id}") == 1
    ledger_check_is_clean(panel)


def test_parallel_retries_of_one_command_credit_once(panel: Panel) -> None:
    customer = make_person(panel)
    key = "parallel-key-0001"

    def run() -> int:
        return panel.cli("funds", "add", customer.name, "2.5", "--memo", "m",
                         "--idempotency-key", key, check=False).returncode

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: run(), range(4)))
    assert codes == [0, 0, 0, 0]
    assert deposits_of(panel, customer.id) == [(f"deposit:{key}", Decimal("2.5"))]
    ledger_check_is_clean(panel)


HOSTILE_KEYS = ["", "short", "x" * 101, "has spaces in it", "nul\x00nul\x00nul",
                "ключключключ", "'; DROP TABLE ledger_entries; --", "../../etc/passwd"]
HOSTILE_MEMOS = ["", "   ", "x" * 501, "nul\x00byte", "line\nbreak", "\u202egnp.exe"]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_a_hostile_idempotency_key_is_refused_and_changes_nothing(
    panel: Panel, in_process: Run, key: str
) -> None:
    customer = make_person(panel)
    refused(in_process("funds", "add", customer.name, "5", "--memo", "m",
                       "--idempotency-key", key), "idempotency key must be")
    assert deposits_of(panel, customer.id) == []
    assert audit_rows(panel, f"user:{customer.id}") == 0


@pytest.mark.parametrize("memo", HOSTILE_MEMOS)
def test_a_balance_change_needs_a_clean_memo_from_the_cli(
    panel: Panel, in_process: Run, memo: str
) -> None:
    customer = make_person(panel)
    refused(in_process("funds", "add", customer.name, "5", "--memo", memo), "memo")
    assert deposits_of(panel, customer.id) == []
    assert audit_rows(panel, f"user:{customer.id}") == 0


# --- the back office -----------------------------------------------------------------------
def _form(visitor: WebClient, user_id: int, amount: str, memo: str) -> dict[str, str]:
    page = visitor.get(f"/admin/users/{user_id}").text
    return {"amount": amount, "memo": memo, "idempotency_key": deposit_key_of(page),
            "csrf": csrf_of(page)}


def test_a_double_submitted_form_credits_once(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    customer = make_person(panel)
    form = _form(visitor, customer.id, "7.5", "wire 3")
    first = visitor.post(f"/admin/users/{customer.id}/funds", form)
    assert "changed by $7.50" in visitor.flash(first)
    second = visitor.post(f"/admin/users/{customer.id}/funds", form)
    assert second.status_code == 303
    assert "already submitted" in visitor.flash(second)
    assert deposits_of(panel, customer.id) == [
        (f"deposit:{form['idempotency_key']}", Decimal("7.5"))
    ]
    # A freshly rendered form is another deposit.
    visitor.post(f"/admin/users/{customer.id}/funds", _form(visitor, customer.id, "1", "m"))
    assert len(deposits_of(panel, customer.id)) == 2
    assert audit_rows(panel, f"user:{customer.id}") == 2
    # The same token with another amount is refused, and changes nothing.
    changed = visitor.post(f"/admin/users/{customer.id}/funds", {**form, "amount": "8"})
    assert "already used for another deposit" in visitor.flash(changed)
    assert len(deposits_of(panel, customer.id)) == 2
    ledger_check_is_clean(panel)


def test_a_form_submitted_in_parallel_credits_once(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    customer = make_person(panel)
    form = _form(visitor, customer.id, "3", "wire 4")
    cookies = dict(visitor.http.cookies)
    barrier = threading.Barrier(6)

    def submit(_: int) -> int:
        with httpx.Client(base_url=panel.url, cookies=cookies, timeout=30) as client:
            barrier.wait()
            return client.post(f"/admin/users/{customer.id}/funds", data=form).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(submit, range(6)))
    assert statuses == [303] * 6
    assert deposits_of(panel, customer.id) == [
        (f"deposit:{form['idempotency_key']}", Decimal("3"))
    ]
    assert audit_rows(panel, f"user:{customer.id}") == 1
    ledger_check_is_clean(panel)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    # NUL bytes are dropped from every form field before a view sees it (web.framework).
    [("idempotency_key", v, "idempotency key must be") for v in HOSTILE_KEYS if "\x00" not in v]
    + [("memo", v, "memo") for v in HOSTILE_MEMOS if "\x00" not in v],
)
def test_a_hostile_form_is_refused_and_changes_nothing(
    panel: Panel, visitor: WebClient, staff: Person, field: str, value: str, message: str
) -> None:
    customer = make_person(panel)
    form = {**_form(visitor, customer.id, "5", "m"), field: value}
    answer = visitor.post(f"/admin/users/{customer.id}/funds", form)
    assert answer.status_code == 303
    assert message in visitor.flash(answer)
    assert deposits_of(panel, customer.id) == []
    assert audit_rows(panel, f"user:{customer.id}") == 0
