"""The money races of test_money_races, on PostgreSQL with group commit on (it is on by
default for SQLite only, so the module there races SQLite's batches already): concurrent
adds and cancels of one account, now in batches that lock the named orders, then the
account, up front (opensmm.api.group_commit). A batch holding the account while it waits
for an order would deadlock with a cancel or an add of the same account in another line;
each order is still refunded once and each balance still pays only for what it holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.concurrency.test_money_races import (
    test_parallel_adds_accept_exactly_what_the_balance_pays_for,
    test_parallel_adds_and_cancels_together_keep_the_ledger,
    test_parallel_cancels_refund_each_order_exactly_once,
)
from tests.support.panel import Panel, running_panel

__all__ = [  # collected here again, with this module's panel
    "test_parallel_adds_accept_exactly_what_the_balance_pays_for",
    "test_parallel_adds_and_cancels_together_keep_the_ledger",
    "test_parallel_cancels_refund_each_order_exactly_once",
]


@pytest.fixture(scope="module")
def panel(database_servers: dict[str, Any]) -> Iterator[Panel]:
    # Two server processes: two lines of batches for one key, racing on its account.
    env = {"OPENSMM_API_GROUP_COMMIT": "on", "OPENSMM_API_GROUP_COMMIT_MS": "5"}
    with running_panel(database_servers, "postgresql", "--workers", "2", env=env) as started:
        yield started
