"""The ``simulator`` mode: orders move by themselves, reproducibly from the seed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from opensmm.db import Database
from opensmm.fulfillment.simulator import SimulatorConfig, plan_for
from opensmm.fulfillment.worker import Worker
from opensmm.money import refund_share
from opensmm.orders.models import Order
from tests.fulfillment import helpers as h

SLOW = replace(h.FAST, simulator=SimulatorConfig(seconds=1000, seed=3, partial_percent=0))


@pytest.fixture
def slow_worker(db: Database) -> Iterator[Worker]:
    runner = Worker(db, SLOW)
    yield runner
    runner.close()


def test_orders_finish_by_themselves_as_their_seeded_plan_says(
    db: Database, worker: Worker
) -> None:
    service_id = h.service(db, fulfillment="simulator", rate=Decimal("1.00"))
    who = h.customer(db, "100")
    ids = [h.place(db, who, service_id, 100 + i) for i in range(40)]
    tally = h.passes(worker, 1)
    assert tally.sent == 40 and tally.updated == 40

    partial = 0
    for order_id in ids:
        order = h.get_order(db, order_id)
        plan = plan_for(order_id, order.units, None, h.FAST.simulator)
        assert order.send_state == "sent" and order.upstream_id == order_id
        assert order.start_count == plan.start_count
        if plan.final_remains:
            partial += 1
            assert (order.status, order.remains) == ("Partial", plan.final_remains)
            assert order.refunded == refund_share(order.charge, plan.final_remains, order.units)
        else:
            assert (order.status, order.remains, order.refunded) == ("Completed", 0, 0)
    assert 0 < partial < 40  # 30 % of them, give or take: both fates are exercised

    again = h.passes(worker, 2)
    assert again.updated == 0 and again.refunds == 0
    assert all(h.refund_entries(db, i) == (1 if h.get_order(db, i).status == "Partial" else 0)
               for i in ids)
    assert h.ledger_clean(db)


def _started(db: Database, order_id: int, seconds_ago: float) -> None:
    """Move an order's send back in time (the simulator reads its plan off the clock)."""
    sent_at = h.get_order(db, order_id).sent_at
    assert sent_at is not None
    with db.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(sent_at=sent_at - timedelta(seconds=seconds_ago), next_poll_at=sent_at)
        )


def test_orders_move_through_pending_and_in_progress_at_the_configured_speed(
    db: Database, slow_worker: Worker
) -> None:
    service_id = h.service(db, fulfillment="simulator")
    who = h.customer(db, "100")
    order_id = h.place(db, who, service_id, 1000)
    h.passes(slow_worker, 2)
    order = h.get_order(db, order_id)
    assert (order.status, order.send_state) == ("Pending", "sent")
    # The worker looks again when the plan says the next change comes, not before.
    plan = plan_for(order_id, 1000, None, SLOW.simulator)
    assert order.next_poll_at is not None and order.sent_at is not None
    assert order.next_poll_at <= order.sent_at + timedelta(seconds=plan.start_after + 1)

    _started(db, order_id, (plan.start_after + plan.finish_after) / 2)
    h.passes(slow_worker, 1)
    running = h.get_order(db, order_id)
    assert running.status == "In progress"
    assert 0 < running.remains <= 1000 and running.start_count == plan.start_count

    _started(db, order_id, plan.finish_after)
    h.passes(slow_worker, 1)
    assert h.get_order(db, order_id).status == "Completed"


def test_a_cancel_while_pending_cancels_and_refunds_everything(
    db: Database, slow_worker: Worker
) -> None:
    service_id = h.service(db, fulfillment="simulator")
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 1000)
    h.passes(slow_worker, 1)
    assert h.cancel(db, who, order_id).cancel_state == "requested"
    tally = h.passes(slow_worker, 1)
    order = h.get_order(db, order_id)
    assert (order.status, order.cancel_state, order.refunded) == ("Canceled", "sent", Decimal(1))
    assert tally.cancels == 1 and tally.refunds == 1
    assert h.balance(db, who) == Decimal("10")


def test_a_cancel_while_running_stops_it_where_it_is_and_refunds_the_rest(
    db: Database, slow_worker: Worker
) -> None:
    service_id = h.service(db, fulfillment="simulator")
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 1000)
    h.passes(slow_worker, 1)
    plan = plan_for(order_id, 1000, None, SLOW.simulator)
    _started(db, order_id, plan.start_after + 0.1)
    h.passes(slow_worker, 1)
    assert h.get_order(db, order_id).status == "In progress"
    h.cancel(db, who, order_id)
    h.passes(slow_worker, 1)
    order = h.get_order(db, order_id)
    assert order.status == "Partial" and order.remains > 0
    assert order.refunded == refund_share(Decimal(1), order.remains, 1000)
    assert h.ledger_clean(db)


def test_drip_feed_orders_take_one_stage_per_run(db: Database) -> None:
    config = SimulatorConfig(seconds=10, seed=1)
    single, dripped = plan_for(5, 100, None, config), plan_for(5, 100, 50, config)
    assert dripped.start_after == single.start_after
    assert dripped.finish_after - dripped.start_after == pytest.approx(
        (single.finish_after - single.start_after) * 50
    )


def test_refills_of_simulated_orders_complete_by_themselves(
    db: Database, worker: Worker
) -> None:
    service_id = h.service(db, fulfillment="simulator", refill=True)
    who = h.customer(db, "10")
    ids = [h.place(db, who, service_id, 100) for _ in range(5)]
    h.passes(worker, 1)
    refill_ids = [h.refill(db, who, i) for i in ids]
    tally = h.passes(worker, 1)
    assert tally.refills_sent == 5
    assert {h.get_refill(db, r).status for r in refill_ids} == {"Completed"}
