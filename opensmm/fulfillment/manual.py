"""The ``manual`` mode: a person does the work and sets the status (``opensmm order set``,
the back office). Nothing is sent, nothing is checked: the worker never picks these
orders, and a customer's cancel is decided at once by the local rule (still Pending)."""

from __future__ import annotations

from collections.abc import Sequence

from opensmm.fulfillment.protocol import (
    CancelAnswer,
    ItemProblem,
    NotSent,
    Observation,
    Outbound,
    OutboundRefill,
    RefillObservation,
    SendOutcome,
    Tracked,
    TrackedRefill,
)

_BY_STAFF = "Manual orders are fulfilled by staff"


class ManualFulfillment:
    mode = "manual"
    name = "staff"
    remote = False

    def close(self) -> None:
        pass

    def send(self, order: Outbound) -> SendOutcome:
        return NotSent(_BY_STAFF, retry=False)

    def poll(self, orders: Sequence[Tracked]) -> dict[int, Observation | ItemProblem]:
        return {}  # no news: staff set statuses themselves

    def cancel(self, orders: Sequence[Tracked]) -> dict[int, CancelAnswer]:
        return {order.order_id: CancelAnswer(accepted=False, reason=_BY_STAFF) for order in orders}

    def send_refill(self, refill: OutboundRefill) -> SendOutcome:
        return NotSent(_BY_STAFF, retry=False)

    def poll_refills(
        self, refills: Sequence[TrackedRefill]
    ) -> dict[int, RefillObservation | ItemProblem]:
        return {}
