"""``opensmm backup`` while the panel takes orders, then ``opensmm restore`` into a new one."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from opensmm.db import Database
from opensmm.orders.models import Order
from tests.support.databases import KINDS
from tests.support.panel import Customer, Panel, run_cli


def _place_orders(panel: Panel, customer: Customer, service: int, count: int) -> list[int]:
    ids = []
    for number in range(count):
        answer = panel.api(
            customer.key, "add", service=service, link=f"https://x.test/{number}", quantity=100
        )
        ids.append(answer["order"])
    return ids


def _statuses(panel: Panel, key: str, ids: list[int]) -> dict[str, object]:
    answers: dict[str, object] = {}
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        answers.update(panel.api(key, "status", orders=",".join(map(str, chunk))))
    return answers


@pytest.mark.parametrize("kind", KINDS)
def test_an_online_backup_restores_to_a_panel_that_adds_up(
    kind: str, database_servers: dict, tmp_path: Path
) -> None:
    server = database_servers[kind]
    source_url = server.new_database()
    source = Panel(kind=kind, database_url=source_url, db=Database(source_url))
    source.start()
    target_url = server.new_database()
    target = Panel(kind=kind, database_url=target_url, db=Database(target_url))
    try:
        customers = [source.customer(balance="50") for _ in range(3)]
        service = source.service(rate="1", cancel=True)
        placed = {c.key: _place_orders(source, c, service, 12) for c in customers}
        first = customers[0]
        source.set_order(placed[first.key][0], status="Partial", remains=40)
        source.set_order(placed[first.key][1], status="Completed")
        source.api(first.key, "cancel", orders=str(placed[first.key][2]))
        before = {c.key: _statuses(source, c.key, placed[c.key]) for c in customers}

        # Orders keep coming in while the backup runs: the copy must still add up.
        writer_customer = source.customer(balance="100")
        stop = threading.Event()
        written: list[int] = []

        def keep_ordering() -> None:
            number = 0
            while not stop.is_set():
                number += 1
                answer = source.api(
                    writer_customer.key,
                    "add",
                    service=service,
                    link=f"https://w.test/{number}",
                    quantity=100,
                )
                written.append(answer["order"])

        writer = threading.Thread(target=keep_ordering)
        writer.start()
        try:
            backup_file = tmp_path / f"panel-{kind}.backup"
            result = source.cli("backup", str(backup_file))
        finally:
            stop.set()
            writer.join()
        assert "Backup written to" in result.stdout
        assert written, "the writer placed no order during the backup"

        restored = target.cli("restore", str(backup_file))
        assert "Ledger OK" in restored.stdout
        assert target.cli("ledger", "check").returncode == 0
        target.start()
        for customer in customers:
            assert _statuses(target, customer.key, placed[customer.key]) == before[customer.key]
            assert target.balance(customer) == source.balance(customer)
        # The writer's orders that made it into the copy answer `status` too, with what was
        # charged; the balance is what it was at that moment (nothing lost, nothing doubled).
        with target.db.read() as session:
            copied = list(
                session.scalars(select(Order.id).where(Order.user_id == writer_customer.id))
            )
        assert set(copied) <= set(written)
        answers = _statuses(target, writer_customer.key, copied)
        assert all(answer["charge"] == "0.10" for answer in answers.values())  # type: ignore[index]
        assert target.balance(writer_customer) == Decimal(100) - Decimal("0.1") * len(copied)
        assert target.ledger_mismatches() == []
    finally:
        source.stop()
        target.stop()
        source.db.dispose()
        target.db.dispose()
        server.drop(source_url)
        server.drop(target_url)


@pytest.mark.parametrize("kind", KINDS)
def test_restore_refuses_a_database_with_accounts_and_the_wrong_kind_of_file(
    kind: str, database_servers: dict, tmp_path: Path
) -> None:
    server = database_servers[kind]
    url = server.new_database()
    panel = Panel(kind=kind, database_url=url, db=Database(url))
    try:
        panel.customer(balance="1")
        backup_file = tmp_path / "one.backup"
        panel.cli("backup", str(backup_file))
        # Password hashes and upstream keys are inside: for the owner's eyes only.
        assert backup_file.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["one.backup"]  # no partial file left
        again = panel.cli("backup", str(backup_file), check=False)
        assert again.returncode == 1 and "exists; choose another path or pass --force" in (
            again.stderr
        )
        assert panel.cli("backup", str(backup_file), "--force").returncode == 0

        refused = panel.cli("restore", str(backup_file), check=False)
        assert refused.returncode == 1
        assert "already holds 1 accounts" in refused.stderr and "--force" in refused.stderr

        not_a_backup = tmp_path / "notes.txt"
        not_a_backup.write_text("hello")
        wrong = panel.cli("restore", str(not_a_backup), "--force", check=False)
        assert wrong.returncode == 1 and "is not " in wrong.stderr

        missing = panel.cli("restore", str(tmp_path / "nope"), check=False)
        assert missing.returncode == 1 and "There is no backup at" in missing.stderr

        # With --force the same panel comes back to the backed-up state.
        panel.customer(balance="2")
        forced = panel.cli("restore", str(backup_file), "--force")
        assert "Restored" in forced.stdout and "1 users" in forced.stdout
    finally:
        panel.db.dispose()
        server.drop(url)


def test_backup_into_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(
        f"sqlite:///{tmp_path / 'p.db'}", "backup", str(tmp_path / "no" / "b"), check=False
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr
