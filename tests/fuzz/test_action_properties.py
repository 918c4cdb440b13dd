"""Every API action, called with arbitrary parameters, on both databases.

After each call: the answer is JSON of the documented shape (or a refusal with its message),
money still adds up (every balance is the sum of its ledger entries, and what the customer
paid is what their orders charged minus what they refunded), and the other customer's orders
and money are untouched. The HTTP-level hostile tests live in tests/hostile/; these call the
actions the endpoint calls, so that each example costs milliseconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import event as _hypothesis_event
from hypothesis import strategies as st
from sqlalchemy import select

from opensmm.accounts import service as accounts
from opensmm.accounts.keys import hash_key
from opensmm.accounts.models import User
from opensmm.api.actions import ACTIONS
from opensmm.catalog import service as catalog
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.ledger import service as ledger
from opensmm.orders import service as orders
from opensmm.orders.models import Order

# How often each action was answered or refused: printed at the end with ``pytest -s`` (the
# examples are generated inside the test, where --hypothesis-show-statistics cannot see them),
# to check that the fuzzing reaches past the refusals.
SEEN: dict[str, int] = {}


def event(name: str) -> None:
    SEEN[name] = SEEN.get(name, 0) + 1
    _hypothesis_event(name)


FUNDS = Decimal(1000)
EXAMPLES = int(os.environ.get("OPENSMM_FUZZ_EXAMPLES", "60"))

ORDER_KEYS = {"charge", "start_count", "status", "remains", "currency"}


@dataclass
class World:
    db: Database
    key_hash: str
    user_id: int
    other_id: int
    other_orders: dict[int, tuple[str, Decimal]]
    service_ids: list[int]
    order_ids: list[int]


def _build(db: Database) -> World:
    with db.write() as session:
        me = accounts.create_user(session, "fuzz-me")
        other = accounts.create_user(session, "fuzz-other")
        for user in (me, other):
            ledger.add_funds(session, user.id, FUNDS, memo="fuzz", actor="test")
        key = accounts.create_key(session, me).key
        common = {"category": "Fuzz", "min_quantity": 10, "max_quantity": 5000}
        services = [
            catalog.add_service(
                session,
                name="Default",
                rate=Decimal("0.9"),
                refill=True,
                cancel=True,
                dripfeed=True,
                **common,
            ),
            catalog.add_service(session, name="Package", type="Package", rate=Decimal(3), **common),
            catalog.add_service(
                session,
                name="Comments",
                type="Custom Comments",
                rate=Decimal("1.5"),
                cancel=True,
                **common,
            ),
            catalog.add_service(
                session, name="Subs", type="Subscriptions", rate=Decimal("0.5"), **common
            ),
            catalog.add_service(
                session, name="Once", rate=Decimal(2), one_active_per_link=True, **common
            ),
            catalog.add_service(session, name="Off", rate=Decimal(1), enabled=False, **common),
        ]
        service_ids = [service.id for service in services]
        placed = []
        for user in (me, other):
            for number in range(3):
                order = orders.place_order(
                    session,
                    user,
                    {
                        "service": services[0].id,
                        "link": f"https://x.test/{number}",
                        "quantity": "100",
                    },
                )
                placed.append(order)
        session.flush()
        # One finished order each way, so that refills and partial refunds are reachable.
        orders.apply_update(session, placed[0].id, orders.OrderUpdate(status="Completed"), "t")
        orders.apply_update(
            session, placed[1].id, orders.OrderUpdate(status="Partial", remains=30), "t"
        )
        orders.apply_update(session, placed[3].id, orders.OrderUpdate(status="Completed"), "t")
        world = World(
            db, hash_key(key), me.id, other.id, {}, service_ids, [order.id for order in placed[:3]]
        )
        for order in placed[3:]:
            world.other_orders[order.id] = (order.status, order.refunded)
    return world


# --- the parameters ----------------------------------------------------------------------
junk = st.text(max_size=12) | st.sampled_from(["", " ", "-1", "0", "1e3", "1.0", "١٢", "\x00"])
small_ids = st.integers(min_value=1, max_value=40).map(str)
id_text = small_ids | junk
id_lists = (
    st.lists(id_text, max_size=8).map(",".join)
    | st.lists(id_text, max_size=8)
    | st.integers(min_value=95, max_value=110).map(lambda n: ",".join(map(str, range(1, n))))
)
numbers = st.integers(min_value=-5, max_value=20_000).map(str) | junk
lines = st.lists(st.text(max_size=10) | st.just("nice post"), max_size=6).map("\n".join)


def params_strategy(service_ids: list[int]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "service": st.sampled_from([str(i) for i in service_ids]) | id_text,
            "link": st.sampled_from(["https://x.test/a", "https://x.test/b", "x.test/c"])
            | st.text(max_size=30),
            "quantity": numbers,
            "runs": numbers,
            "interval": numbers,
            "comments": lines,
            "usernames": lines,
            "username": junk | st.just("someone"),
            "min": numbers,
            "max": numbers,
            "posts": numbers,
            "delay": st.sampled_from(["0", "5", "7", "60"]) | junk,
            "expiry": st.sampled_from(["31/12/2030", "2030-12-31", "31/02/2030"]) | junk,
            "order": id_text,
            "orders": id_lists,
            "refill": id_text,
            "refills": id_lists,
        },
    )


def well_formed_order(service_ids: list[int]) -> st.SearchStrategy[dict[str, object]]:
    """Mostly valid ``add`` requests, so that orders get placed, cancelled and refilled."""
    default, package, comments, _subs, once, _off = service_ids
    return st.fixed_dictionaries(
        {
            "service": st.sampled_from([default, package, comments, once]).map(str),
            "link": st.sampled_from(["https://x.test/a", "https://x.test/b", "https://y.test/"]),
            "quantity": st.integers(min_value=10, max_value=400).map(str),
        },
        optional={
            "comments": st.just("one\ntwo\n\nthree") | lines,
            "runs": st.sampled_from(["2", "3", "0"]),
            "interval": st.sampled_from(["5", "0"]),
            "order": small_ids,
            "orders": id_lists,
        },
    )


# --- what each answer must look like -----------------------------------------------------
def _is_error(value: object) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"error"}
        and isinstance(value["error"], str)
        and bool(value["error"])
    )


def _check_shape(action: str, params: dict[str, object], answer: object) -> None:
    orjson.dumps(answer)  # JSON, whatever it is
    if _is_error(answer):
        assert action in {"status", "refill", "refill_status"}, answer  # single-id refusals
        return
    if action == "balance":
        assert isinstance(answer, dict) and set(answer) == {"balance", "currency"}
        Decimal(answer["balance"])
    elif action == "services":
        answer = orjson.loads(orjson.dumps(answer))  # encoded once per catalog: a Fragment
        assert isinstance(answer, list)
        assert all(isinstance(item["service"], int) for item in answer)
    elif action == "add":
        assert isinstance(answer, dict) and set(answer) == {"order"}
        assert isinstance(answer["order"], int)
    elif action == "status":
        assert isinstance(answer, dict)
        if "orders" in params:
            for item in answer.values():
                assert _is_error(item) or set(item) == ORDER_KEYS
        else:
            assert set(answer) == ORDER_KEYS
    elif action == "refill":
        if "orders" in params:
            assert isinstance(answer, list)
            for item in answer:
                assert set(item) == {"order", "refill"}
                assert isinstance(item["refill"], int) or _is_error(item["refill"])
        else:
            assert isinstance(answer, dict) and set(answer) == {"refill"}
            assert answer["refill"].isdigit()
    elif action == "refill_status":
        if "refills" in params:
            assert isinstance(answer, list)
            for item in answer:
                assert set(item) == {"refill", "status"}
                assert isinstance(item["status"], str) or _is_error(item["status"])
        else:
            assert isinstance(answer, dict) and set(answer) == {"status"}
    elif action == "cancel":
        assert isinstance(answer, list)
        for item in answer:
            assert set(item) == {"order", "cancel"}
            assert item["cancel"] == 1 or _is_error(item["cancel"])
    else:
        raise AssertionError(f"no shape for {action}")


def _money(world: World) -> tuple[Decimal, int]:
    with world.db.read() as session:
        balance = session.scalar(select(User.balance).where(User.id == world.user_id))
        rows = session.execute(
            select(Order.charge, Order.refunded).where(Order.user_id == world.user_id)
        ).all()
        assert ledger.check(session) == []
    assert balance is not None and balance >= 0
    charged = sum((charge for charge, _ in rows), Decimal(0))
    refunded = sum((back for _, back in rows), Decimal(0))
    assert all(Decimal(0) <= back <= charge for charge, back in rows)
    # What the customer paid is what their orders charged minus what they refunded.
    assert balance == FUNDS - charged + refunded, (balance, charged, refunded)
    return balance, len(rows)


def _others_untouched(world: World) -> None:
    with world.db.read() as session:
        assert session.scalar(select(User.balance).where(User.id == world.other_id)) == (
            FUNDS - sum(Decimal("0.09") for _ in world.other_orders)
        )
        for order_id, (status, refunded) in world.other_orders.items():
            order = session.get(Order, order_id)
            assert order is not None and (order.status, order.refunded) == (status, refunded)


def test_every_action_answers_its_shape_and_money_adds_up(db: Database) -> None:
    world = _build(db)
    steps = st.lists(
        st.tuples(
            st.sampled_from(sorted(ACTIONS)),
            params_strategy(world.service_ids) | well_formed_order(world.service_ids),
        ),
        min_size=1,
        max_size=6,
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(steps)
    def run(calls: list[tuple[str, dict[str, object]]]) -> None:
        for action, params in calls:
            before = _money(world)
            try:
                answer = ACTIONS[action](db, world.key_hash, params, "USD")  # type: ignore[arg-type]
            except DomainError as exc:
                event(f"{action}: refused")
                assert exc.message
                # A refused request changes nothing.
                assert _money(world) == before
                continue
            event(f"{action}: {'single refusal' if _is_error(answer) else 'answered'}")
            _check_shape(action, params, answer)
            after = _money(world)
            if action == "add":
                assert after[1] == before[1] + 1 and after[0] < before[0]
            elif action == "cancel" and any(item["cancel"] == 1 for item in answer):
                event("cancel: some cancelled")
                assert after[0] > before[0]
            elif action in {"balance", "services", "status", "refill_status", "refill"}:
                assert after == before
            _check_other_ids(action, answer, world)
            _others_untouched(world)

    run()


def _check_other_ids(action: str, answer: object, world: World) -> None:
    """Another customer's order is answered exactly as one that does not exist."""
    others = {str(order_id) for order_id in world.other_orders}
    if action == "status" and isinstance(answer, dict):
        for raw, item in answer.items():
            if raw.strip() in others:
                assert item == {"error": "Incorrect order ID"}
    if action in {"cancel", "refill"} and isinstance(answer, list):
        for item in answer:
            if str(item["order"]).strip() in others:
                assert item[action] == {"error": "Incorrect order ID"}


def teardown_module() -> None:
    print("\nOUTCOMES", sorted(SEEN.items()))
