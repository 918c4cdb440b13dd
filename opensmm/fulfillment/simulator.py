"""The ``simulator`` mode: orders move by themselves, for demos, tests and benchmarks.

Nothing is stored: an order's whole life is drawn once from a random generator seeded
with ``(seed, order id)``, and its status at any moment is read off that plan from the
time it was "sent". So the same seed gives every order the same fate (Completed or
Partial, start count, what remains) whichever worker looks, and however often.

A plan: ``Pending`` for about one stage (``OPENSMM_SIMULATOR_SECONDS``), then ``In progress``
(``Active`` for subscriptions) for about one stage per run (drip-feed orders take one stage
per run), then ``Completed``, or ``Partial`` for ``OPENSMM_SIMULATOR_PARTIAL_PERCENT`` of the
orders. A cancel while ``Pending`` cancels it (full refund); while running it stops the
order where it is (``Partial``, the rest refunded). Refills go ``Pending``, ``In progress``,
``Completed``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opensmm.db import utcnow
from opensmm.fulfillment.protocol import (
    Accepted,
    CancelAnswer,
    ItemProblem,
    Observation,
    Outbound,
    OutboundRefill,
    RefillObservation,
    SendOutcome,
    Tracked,
    TrackedRefill,
)
from opensmm.orders import statuses as st
from opensmm.refills import statuses as rs

# In progress, the remains fall in this many steps (each one an update of the order).
REMAINS_STEPS = 4


@dataclass(frozen=True)
class SimulatorConfig:
    seconds: float = 10.0
    seed: int = 0
    partial_percent: float = 10.0


@dataclass(frozen=True)
class Plan:
    start_after: float  # seconds after sending
    finish_after: float
    start_count: int
    final_remains: int  # 0: Completed; else Partial with this many undelivered


def plan_for(order_id: int, units: int, runs: int | None, config: SimulatorConfig) -> Plan:
    rng = random.Random(f"{config.seed}:order:{order_id}")
    stage = max(config.seconds, 0.0)
    start_after = stage * rng.uniform(0.5, 1.5)
    running = stage * rng.uniform(0.5, 1.5) * max(1, runs or 1)
    partial = units > 1 and rng.random() * 100 < config.partial_percent
    final_remains = rng.randint(1, max(1, units // 2)) if partial else 0
    return Plan(
        start_after=start_after,
        finish_after=start_after + running,
        start_count=rng.randint(0, 50_000),
        final_remains=final_remains,
    )


def _at(sent_at: datetime, seconds: float) -> datetime:
    return sent_at + timedelta(seconds=seconds)


class SimulatorFulfillment:
    mode = "simulator"
    name = "simulator"
    remote = False  # nothing leaves the process: a send cannot end in doubt

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()

    def close(self) -> None:
        pass

    # --- orders --------------------------------------------------------------------

    def send(self, order: Outbound) -> SendOutcome:
        return Accepted(upstream_id=order.order_id)

    def observe(self, order: Tracked, now: datetime) -> Observation:
        plan = plan_for(order.order_id, order.units, order.runs, self.config)
        elapsed = (now - order.sent_at).total_seconds()
        if elapsed < plan.start_after:
            return Observation(
                status=st.PENDING,
                raw_status=st.PENDING,
                remains=order.units,
                next_change_at=_at(order.sent_at, plan.start_after),
            )
        if elapsed < plan.finish_after:
            to_deliver = order.units - plan.final_remains
            share = (elapsed - plan.start_after) / (plan.finish_after - plan.start_after)
            step = int(share * REMAINS_STEPS)
            delivered = to_deliver * step // REMAINS_STEPS
            step_seconds = (plan.finish_after - plan.start_after) / REMAINS_STEPS
            running = st.ACTIVE if order.subscription else st.IN_PROGRESS
            return Observation(
                status=running,
                raw_status=running,
                start_count=plan.start_count,
                remains=order.units - delivered,
                next_change_at=_at(order.sent_at, plan.start_after + (step + 1) * step_seconds),
            )
        if plan.final_remains and not order.subscription:
            return Observation(
                status=st.PARTIAL,
                raw_status=st.PARTIAL,
                start_count=plan.start_count,
                remains=plan.final_remains,
            )
        return Observation(
            status=st.COMPLETED, raw_status=st.COMPLETED, start_count=plan.start_count, remains=0
        )

    def poll(self, orders: Sequence[Tracked]) -> dict[int, Observation | ItemProblem]:
        now = utcnow()
        return {order.order_id: self.observe(order, now) for order in orders}

    def cancel(self, orders: Sequence[Tracked]) -> dict[int, CancelAnswer]:
        now = utcnow()
        answers: dict[int, CancelAnswer] = {}
        for order in orders:
            seen = self.observe(order, now)
            if seen.status == st.PENDING:
                outcome = Observation(
                    status=st.CANCELED, raw_status=st.CANCELED, remains=order.units
                )
                answers[order.order_id] = CancelAnswer(accepted=True, observation=outcome)
            elif seen.status in (st.IN_PROGRESS, st.ACTIVE) and seen.remains:
                stopped = st.EXPIRED if order.subscription else st.PARTIAL
                outcome = Observation(
                    status=stopped,
                    raw_status=stopped,
                    start_count=seen.start_count,
                    remains=seen.remains,
                )
                answers[order.order_id] = CancelAnswer(accepted=True, observation=outcome)
            else:
                answers[order.order_id] = CancelAnswer(
                    accepted=False, reason="The order is already completed"
                )
        return answers

    # --- refills -------------------------------------------------------------------

    def send_refill(self, refill: OutboundRefill) -> SendOutcome:
        return Accepted(upstream_id=refill.refill_id)

    def observe_refill(self, refill: TrackedRefill, now: datetime) -> RefillObservation:
        rng = random.Random(f"{self.config.seed}:refill:{refill.refill_id}")
        stage = max(self.config.seconds, 0.0)
        start_after = stage * rng.uniform(0.5, 1.5)
        finish_after = start_after + stage * rng.uniform(0.5, 1.5)
        elapsed = (now - refill.sent_at).total_seconds()
        if elapsed < start_after:
            return RefillObservation(
                rs.PENDING, rs.PENDING, _at(refill.sent_at, start_after)
            )
        if elapsed < finish_after:
            return RefillObservation(
                rs.IN_PROGRESS, rs.IN_PROGRESS, _at(refill.sent_at, finish_after)
            )
        return RefillObservation(rs.COMPLETED, rs.COMPLETED)

    def poll_refills(
        self, refills_: Sequence[TrackedRefill]
    ) -> dict[int, RefillObservation | ItemProblem]:
        now = utcnow()
        return {refill.refill_id: self.observe_refill(refill, now) for refill in refills_}
