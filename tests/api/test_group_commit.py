"""Group commit of ``add``, ``cancel`` and ``refill`` (opensmm.api.group_commit) answers
exactly as one at a time.

The endpoint is driven in-process (the same ``ApiEndpoint`` that ``opensmm serve`` mounts),
so that a batch is known to form (a wide window, every request sent before it closes) and
failures can be injected where no HTTP client could put them. The same sequence of
requests goes to two fresh databases of the same kind, set up alike: one at a time with
group commit off, all together in one batch with it on; the answers, the orders, their
histories, the refills, the ledgers and the balances must be the same, row for row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from sqlalchemy import event, select

from opensmm.accounts.models import User
from opensmm.api import actions, group_commit
from opensmm.api.endpoint import INTERNAL_ERROR, ApiEndpoint
from opensmm.db import Database
from opensmm.ledger import service as ledger
from opensmm.ledger.models import LedgerEntry
from opensmm.orders import service as orders
from opensmm.orders.models import IdempotencyKey, Order, OrderEvent
from opensmm.panel_settings import service as panel_settings
from opensmm.refills.models import Refill
from opensmm.settings import Settings
from tests.support.databases import KINDS
from tests.support.panel import Customer, Panel

RATE = "3.33337"
QUANTITY = 370
CHARGE_EACH = Decimal("1.23335")  # 3.33337 × 370 / 1000, half-up
BOOM = "https://example.test/boom"
# A cancel of the order with this link raises an unexpected error after its refund.
BOOM_CANCEL = "https://example.test/boom-cancel"


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def fresh_panel(database_servers: dict[str, Any], kind: str) -> Iterator[Panel]:
    """A fresh migrated database, with the panel's set-up helpers (no server process)."""
    server = database_servers[kind]
    url = server.new_database()
    db = Database(url)
    try:
        yield Panel(kind=kind, database_url=url, db=db)
    finally:
        db.dispose()
        server.drop(url)


def endpoint(db: Database, *, on: bool, window_ms: float = 300.0) -> ApiEndpoint:
    settings = Settings(
        database_url=db.url,
        access_log=False,
        api_group_commit="on" if on else "off",
        api_group_commit_ms=window_ms,
        api_group_commit_max=64,
    )
    return ApiEndpoint(db, "USD", 8, settings)


async def call(api: ApiEndpoint, form: dict[str, Any]) -> Any:
    """One POST to the endpoint, as uvicorn would hand it over; the decoded answer."""
    body = urlencode({name: str(value) for name, value in form.items()}).encode()
    scope = {
        "type": "http", "method": "POST", "path": "/api/v2", "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await api(scope, receive, send)
    assert sent[0]["status"] == 200
    return orjson.loads(sent[1]["body"])


def one_at_a_time(api: ApiEndpoint, forms: list[dict[str, Any]]) -> list[Any]:
    async def run() -> list[Any]:
        try:
            return [await call(api, form) for form in forms]
        finally:
            await api.close()

    return asyncio.run(run())


def all_together(api: ApiEndpoint, forms: list[dict[str, Any]]) -> list[Any]:
    async def run() -> list[Any]:
        try:
            return list(await asyncio.gather(*(call(api, form) for form in forms)))
        finally:
            await api.close()

    return asyncio.run(run())


@pytest.fixture(autouse=True)
def maintenance_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The maintenance switch, once read, is known for the test: no request goes to a
    thread for it, so the requests reach the batch in the order they were sent."""
    monkeypatch.setattr(panel_settings, "MAINTENANCE_RECHECK_SECONDS", 3600.0)


@pytest.fixture(autouse=True)
def boom(monkeypatch: pytest.MonkeyPatch) -> None:
    """An order for the link BOOM raises an unexpected error after it was placed (its
    order, event and charge are written): what a bug in a request would do."""
    place = orders.place

    def placing(session: Any, customer: Any, params: dict[str, object]) -> Any:
        placed = place(session, customer, params)
        if params.get("link") == BOOM:
            raise RuntimeError("injected")
        return placed

    monkeypatch.setattr(orders, "place", placing)
    cancel = orders.cancel_by_customer

    def canceling(session: Any, user: Any, order_id: int) -> Any:
        order = cancel(session, user, order_id)
        if order.link == BOOM_CANCEL:
            raise RuntimeError("injected")
        return order

    monkeypatch.setattr(orders, "cancel_by_customer", canceling)


def set_up(panel: Panel) -> tuple[dict[str, Customer], int]:
    customers = {
        # Two orders' worth, and its one order there already (that a cancel refunds).
        "a": panel.customer(balance=CHARGE_EACH * 3, name="cust-a"),
        "b": panel.customer(balance=CHARGE_EACH * 20, name="cust-b"),
        "c": panel.customer(balance=CHARGE_EACH * 10, name="cust-c"),
    }
    service = panel.service(rate=RATE, cancel=True, refill=True)
    panel_settings.maintenance_message(panel.db)
    return customers, service


def existing_orders(panel: Panel, customers: dict[str, Customer], service: int) -> dict[str, int]:
    """Orders there before the requests, for their cancels and refills (the same ids in
    every fresh panel set up alike)."""
    made = {}
    for name, who, status in [
        ("a1", "a", None), ("b1", "b", None), ("b2", "b", None), ("b3", "b", None),
        ("b4", "b", None), ("boom", "b", None), ("done", "b", "Completed"), ("c1", "c", None),
    ]:
        link = BOOM_CANCEL if name == "boom" else f"https://before.test/{name}"
        with panel.write() as session:
            made[name] = orders.place(
                session, orders.Customer(customers[who].id, Decimal(0)),
                {"service": service, "link": link, "quantity": QUANTITY},
            ).id
        if status is not None:
            panel.set_order(made[name], status=status)
    return made


def mixed_requests(
    customers: dict[str, Customer], service: int, made: dict[str, int]
) -> list[dict[str, Any]]:
    a, b, c = (customers[name].key for name in "abc")
    unknown_key = c[:-1] + ("x" if c[-1] != "x" else "y")
    order = {"action": "add", "service": service, "quantity": QUANTITY}
    return [
        {**order, "key": a, "link": "https://e.test/1"},  # placed
        {**order, "key": b, "link": "https://e.test/2", "quantity": 5},  # below the minimum
        {**order, "key": a, "link": "https://e.test/3", "idempotency_key": "k1"},  # placed
        {**order, "key": a, "link": "https://e.test/4"},  # a's funds are gone
        {**order, "key": a, "link": "https://e.test/3", "idempotency_key": "k1"},  # the same
        {**order, "key": b, "link": "https://e.test/3", "idempotency_key": "k1"},  # b's own k1
        {**order, "key": b, "link": "https://e.test/5", "service": 999_999},  # no service
        {**order, "key": b, "link": BOOM},  # an unexpected error after writing
        {**order, "key": a, "link": "https://e.test/3", "idempotency_key": "k1",
         "quantity": 400},  # k1 for another order
        {**order, "key": unknown_key, "link": "https://e.test/6"},  # no such key
        {**order, "key": c, "link": "https://e.test/7"},  # placed
        {**order, "key": b, "link": "https://e.test/8", "idempotency_key": "bad key!"},
        {**order, "key": b, "link": "https://e.test/9"},  # placed, after b's refusals
        {**order, "key": c, "link": "https://e.test/10", "quantity": 20_000},  # above max
        {**order, "key": c, "link": "https://e.test/11"},  # placed
        # Cancels and refills, among adds (each id its own savepoint, as alone its own unit).
        {"action": "cancel", "key": b,  # refunded; c's; unknown; finished; not an id
         "orders": f"{made['b1']},{made['c1']},99999999,{made['done']},x"},
        {**order, "key": a, "link": "https://e.test/12"},  # a's funds are still gone
        {"action": "cancel", "key": a, "order": made["a1"]},  # refunds a
        {**order, "key": a, "link": "https://e.test/13"},  # placed with that refund
        {"action": "cancel", "key": b, "order": made["b2"]},  # canceled
        {"action": "cancel", "key": b, "orders": f"{made['b2']},{made['b3']}"},  # again; b3
        {"action": "refill", "key": b, "order": made["done"]},  # a refill
        {"action": "refill", "key": b,  # one open already; canceled; pending; not an id
         "orders": f"{made['done']},{made['b1']},{made['b4']},abc"},
        {"action": "refill", "key": c, "order": made["c1"]},  # not finished
        {"action": "refill", "key": b, "order": made["c1"]},  # c's
        {"action": "cancel", "key": unknown_key, "order": made["b4"]},  # no such key
        {"action": "cancel", "key": b, "orders": ""},  # no ids
        # b4 canceled, then an unexpected error after boom's refund: b4 stays canceled
        # (as alone: its own unit), boom's refund is undone, b1 is never tried.
        {"action": "cancel", "key": b, "orders": f"{made['b4']},{made['boom']},{made['b1']}"},
        {**order, "key": b, "link": "https://e.test/14"},  # placed
    ]


def state(panel: Panel) -> dict[str, Any]:
    """Everything an ``add`` writes, as comparable rows (times left out)."""
    with panel.db.read() as session:
        return {
            "orders": [
                (o.id, o.user_id, o.service_id, o.link, o.quantity, o.charge, o.status)
                for o in session.scalars(select(Order).order_by(Order.id))
            ],
            "ledger": [
                # A deposit's key is random (the set-up's funds): its kind says enough.
                (e.id, e.user_id, e.amount, e.balance_after, e.kind,
                 e.kind if e.key.startswith("deposit:") else e.key, e.order_id, e.code)
                for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
            ],
            "keys": [
                (k.user_id, k.key, k.params_hash, k.order_id)
                for k in session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id))
            ],
            "refills": [
                (r.id, r.order_id, r.user_id, r.status, r.send_state)
                for r in session.scalars(select(Refill).order_by(Refill.id))
            ],
            "events": [
                (e.id, e.order_id, e.actor_kind, e.actor, e.code)
                for e in session.scalars(select(OrderEvent).order_by(OrderEvent.id))
            ],
            "balances": [
                (u.id, u.balance) for u in session.scalars(select(User).order_by(User.id))
            ],
            "mismatches": ledger.check(session),
        }


def both_ways(
    database_servers: dict[str, Any],
    kind: str,
    together: Callable[[ApiEndpoint, list[dict[str, Any]]], list[Any]] = all_together,
) -> tuple[list[Any], list[Any], dict[str, Any], dict[str, Any], ApiEndpoint, list[int]]:
    with fresh_panel(database_servers, kind) as alone_panel:
        customers, service = set_up(alone_panel)
        made = existing_orders(alone_panel, customers, service)
        alone = one_at_a_time(
            endpoint(alone_panel.db, on=False), mixed_requests(customers, service, made)
        )
        alone_state = state(alone_panel)
    with fresh_panel(database_servers, kind) as batch_panel:
        customers, service = set_up(batch_panel)
        made = existing_orders(batch_panel, customers, service)
        api = endpoint(batch_panel.db, on=True)
        forms = mixed_requests(customers, service, made)
        batched = together(api, forms)
        batch_state = state(batch_panel)
        assert api.group_commit is not None
        expected = expected_batches(forms, kind, api.group_commit.max_batch)
    return alone, batched, alone_state, batch_state, api, expected


def canonical(answers: list[Any], written: dict[str, Any]) -> tuple[Any, Any]:
    """Answers and rows with every order named by what it is (customer, link, quantity)
    instead of its id, and each account's ledger in its own order: on PostgreSQL the
    batches of different keys run side by side, so ids interleave across customers as
    concurrent requests' always did; each customer's own history must be the same."""
    ident = {row[0]: (row[1], row[3], row[4]) for row in written["orders"]}

    def key(value: str) -> Any:
        parts = value.split(":")
        return (parts[0], ident[int(parts[1])], *parts[2:]) if parts[0] == "order" else value

    return (
        [{"order": ident[a["order"]]} if "order" in a else a for a in answers],
        {
            "orders": sorted((ident[r[0]], *r[1:]) for r in written["orders"]),
            "ledger": [
                (*r[1:5], key(r[5]), None if r[6] is None else ident[r[6]], r[7])
                for r in sorted(written["ledger"], key=lambda r: (r[1], r[0]))
            ],
            "keys": sorted((*r[:3], None if r[3] is None else ident[r[3]])
                           for r in written["keys"]),
            "refills": [
                (ident[r[1]], *r[2:])
                for r in sorted(written["refills"], key=lambda r: (r[2], r[0]))
            ],
            "events": [
                (ident[r[1]], *r[2:])
                for r in sorted(written["events"], key=lambda r: (ident[r[1]], r[0]))
            ],
            "balances": written["balances"],
            "mismatches": written["mismatches"],
        },
    )


def expected_batches(forms: list[dict[str, Any]], kind: str, most: int) -> list[int]:
    """The batch sizes: one line on SQLite, one line per key on PostgreSQL."""
    lines: dict[str, int] = {}
    for form in forms:
        line = form["key"] if kind == "postgresql" else ""
        lines[line] = lines.get(line, 0) + 1
    return sorted(
        min(most, count - start) for count in lines.values() for start in range(0, count, most)
    )


def test_one_batch_answers_and_writes_exactly_as_one_at_a_time(
    database_servers: dict[str, Any], kind: str
) -> None:
    alone, batched, alone_state, batch_state, api, expected = both_ways(database_servers, kind)
    assert api.group_commit is not None
    assert sorted(api.group_commit.batch_sizes) == expected  # really batched
    # The sequence refuses what it should, so that the comparison means something.
    errors = [answer.get("error") for answer in alone[:15]]
    assert errors == [
        None, "Quantity less than minimal 10", None, "Not enough funds on balance", None,
        None, "Incorrect service ID", INTERNAL_ERROR,
        "This idempotency key was used for another order", "Invalid API key", None,
        "An idempotency key is 1 to 100 letters, digits, - or _", None,
        "Quantity more than maximal 10000", None,
    ], alone
    assert alone[4] == alone[2]  # the retried key answers the first order
    # The cancels and refills among them too. The orders there before, in a fresh database:
    # a1 1, b1 2, b2 3, b3 4, b4 5, boom 6, done 7, c1 8 (existing_orders).
    started = "The order has already started and can no longer be canceled"
    not_finished = "Refill is available only for completed or partial orders"
    unknown = {"error": "Incorrect order ID"}
    assert "order" in alone[18] and "order" in alone[-1], alone
    assert alone[15:18] + alone[19:-1] == [
        [{"order": 2, "cancel": 1}, {"order": 8, "cancel": unknown},
         {"order": 99999999, "cancel": unknown}, {"order": 7, "cancel": {"error": started}},
         {"order": "x", "cancel": unknown}],
        {"error": "Not enough funds on balance"},
        [{"order": 1, "cancel": 1}],
        [{"order": 3, "cancel": 1}],
        [{"order": 3, "cancel": {"error": "The order is already canceled"}},
         {"order": 4, "cancel": 1}],
        {"refill": "1"},
        [{"order": 7, "refill": {"error": "A refill for this order is already in progress"}},
         {"order": 2, "refill": {"error": not_finished}},
         {"order": 5, "refill": {"error": not_finished}},
         {"order": "abc", "refill": unknown}],
        {"error": not_finished}, unknown, {"error": "Invalid API key"},
        {"error": "Incorrect request"}, {"error": INTERNAL_ERROR},
    ], alone
    # b4 stays canceled though its request failed on the next id (as alone), boom does not.
    statuses = {row[3]: row[6] for row in batch_state["orders"]}
    assert statuses["https://before.test/b4"] == "Canceled"
    assert statuses[BOOM_CANCEL] == "Pending"
    assert statuses["https://before.test/b1"] == "Canceled"  # by the first cancel
    assert canonical(batched, batch_state) == canonical(alone, alone_state)
    if kind == "sqlite":  # one batch in arrival order: the very same ids
        assert (batched, batch_state) == (alone, alone_state)
    assert batch_state["mismatches"] == []
    # Nothing of the failed request stayed: no order for its link.
    assert all(row[3] != BOOM for row in batch_state["orders"])


def test_a_failed_commit_answers_no_order(
    database_servers: dict[str, Any], kind: str
) -> None:
    with fresh_panel(database_servers, kind) as panel:
        customers, service = set_up(panel)
        before = state(panel)
        balances = {name: panel.balance(c) for name, c in customers.items()}
        failures = []

        def fail_once(_connection: Any) -> None:  # every batch's COMMIT, once
            failures.append(1)
            raise RuntimeError("injected: the COMMIT failed")

        event.listen(panel.db.write_engine, "commit", fail_once)
        forms = [
            {"action": "add", "key": c.key, "service": service, "quantity": QUANTITY,
             "link": f"https://e.test/{name}"}
            for name, c in customers.items()
        ]
        api = endpoint(panel.db, on=True)
        try:
            answers = all_together(api, forms)
        finally:
            event.remove(panel.db.write_engine, "commit", fail_once)
        assert api.group_commit is not None
        assert sorted(api.group_commit.batch_sizes) == expected_batches(forms, kind, 64)
        assert len(failures) == len(api.group_commit.batch_sizes)
        assert answers == [{"error": INTERNAL_ERROR}] * 3
        assert state(panel) == before  # nothing was written
        assert {name: panel.balance(c) for name, c in customers.items()} == balances
        # The next batch commits as usual.
        answers = all_together(endpoint(panel.db, on=True), forms)
        assert all("order" in answer for answer in answers), answers
        after = state(panel)
        assert len(after["orders"]) == 3
        assert after["mismatches"] == []


def test_a_batch_that_fails_before_its_commit_places_each_alone(
    database_servers: dict[str, Any], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure of the batch itself (here: its fourth savepoint) rolls the batch back;
    every request is then placed alone, with the answers of one at a time."""
    one = group_commit.GroupCommit._one
    seen: list[int] = []

    def failing(self: group_commit.GroupCommit, session: Any, item: Any) -> Any:
        seen.append(1)
        if len(seen) == 4:
            raise RuntimeError("injected: the savepoint machinery failed")
        return one(self, session, item)

    monkeypatch.setattr(group_commit.GroupCommit, "_one", failing)
    alone, batched, alone_state, batch_state, api, expected = both_ways(database_servers, kind)
    assert len(seen) >= 4  # one batch stopped there, and went one at a time
    assert api.group_commit is not None
    assert sorted(api.group_commit.batch_sizes) == expected
    assert canonical(batched, batch_state) == canonical(alone, alone_state)
    if kind == "sqlite":  # one batch: the same ids as one at a time
        assert (batched, batch_state) == (alone, alone_state)
    assert batch_state["mismatches"] == []


def test_the_setting(database_servers: dict[str, Any], kind: str) -> None:
    """auto: on for SQLite, off for PostgreSQL; on and off whatever the database."""
    with fresh_panel(database_servers, kind) as panel:
        for value, expected in [("auto", kind == "sqlite"), ("on", True), ("OFF", False),
                                ("true", True), ("0", False)]:
            api = ApiEndpoint(panel.db, "USD", 2, Settings(api_group_commit=value))
            assert (api.group_commit is not None) == expected, value
            asyncio.run(api.close())
        with pytest.raises(ValueError, match="on, off or auto"):
            ApiEndpoint(panel.db, "USD", 2, Settings(api_group_commit="sometimes"))


def test_small_batches_keep_arrival_order_and_the_ledger(
    database_servers: dict[str, Any], kind: str
) -> None:
    """Batches of at most 4 (and the next gathering while one commits): still the answers
    of one at a time."""

    def in_fours(api: ApiEndpoint, forms: list[dict[str, Any]]) -> list[Any]:
        assert api.group_commit is not None
        api.group_commit.max_batch = 4
        return all_together(api, forms)

    alone, batched, alone_state, batch_state, api, expected = both_ways(
        database_servers, kind, in_fours
    )
    assert api.group_commit is not None
    assert sorted(api.group_commit.batch_sizes) == expected
    assert expected == (
        [1, 4, 4, 4, 4, 4, 4, 4] if kind == "sqlite" else [2, 3, 4, 4, 4, 4, 4, 4]
    )
    assert canonical(batched, batch_state) == canonical(alone, alone_state)
    if kind == "sqlite":
        assert (batched, batch_state) == (alone, alone_state)
    assert batch_state["mismatches"] == []


def test_a_savepoint_that_fails_inside_a_cancel_places_each_alone(
    database_servers: dict[str, Any], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A savepoint that cannot be opened (here: the first id's of the first cancel) is the
    batch's failure, not that request's refusal: the batch is rolled back and each request
    placed alone, with the answers of one at a time."""
    savepoints = group_commit._savepoints
    opened: list[str] = []

    def failing(session: Any) -> actions.Units:
        units = savepoints(session)

        @contextmanager
        def check() -> Iterator[Any]:  # only cancels and refills check their key first
            opened.append("check")
            with units.check() as inner:
                yield inner

        @contextmanager
        def each() -> Iterator[Any]:
            opened.append("each")
            if opened.count("check") == 1 and opened[-2] == "check":
                opened.append("failed")
                raise group_commit.BatchBroken("injected: SAVEPOINT failed")
            with units.each() as inner:
                yield inner

        return actions.Units(check=check, each=each)

    monkeypatch.setattr(group_commit, "_savepoints", failing)
    alone, batched, alone_state, batch_state, api, expected = both_ways(database_servers, kind)
    assert opened.count("failed") == 1
    assert api.group_commit is not None
    assert sorted(api.group_commit.batch_sizes) == expected
    assert canonical(batched, batch_state) == canonical(alone, alone_state)
    if kind == "sqlite":
        assert (batched, batch_state) == (alone, alone_state)
    assert batch_state["mismatches"] == []
