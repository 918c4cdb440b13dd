"""What every client test needs on the running panel: a funded customer and one service
of each shape the clients can order (their ids), plus exact-money helpers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from opensmm.orders.models import Order
from opensmm.refills.models import Refill
from tests.support.panel import Customer, Panel

START = Decimal("50.00")


@dataclass
class World:
    panel: Panel
    customer: Customer
    default: int  # Default: refill and cancel allowed, drip-feed allowed, rate 0.90
    comments: int  # Custom Comments, rate 12.34567 per 1000 comments
    subscription: int  # Subscriptions, rate 1.50
    mentions: int  # Mentions with Hashtags, rate 2.00
    no_cancel: int  # Default without refill or cancel, rate 3.00

    @property
    def key(self) -> str:
        return self.customer.key

    def balance(self) -> Decimal:
        return self.panel.balance(self.customer)

    def order(self, order_id: int) -> Order:
        with self.panel.db.read() as session:
            order = session.get(Order, order_id)
            assert order is not None, f"order {order_id} is not in the database"
            assert order.user_id == self.customer.id
            return order

    def orders(self) -> list[Order]:
        with self.panel.db.read() as session:
            return list(
                session.scalars(
                    select(Order).where(Order.user_id == self.customer.id).order_by(Order.id)
                )
            )

    def refills(self) -> list[Refill]:
        with self.panel.db.read() as session:
            return list(
                session.scalars(
                    select(Refill).where(Refill.user_id == self.customer.id).order_by(Refill.id)
                )
            )

    def other_customers_order(self) -> int:
        """An order that exists but is someone else's: answered as if it did not exist."""
        stranger = self.panel.customer(balance="5")
        placed = self.panel.api(
            stranger.key, "add", service=self.default, link="https://other.test/", quantity=100
        )
        order_id: int = placed["order"]
        self.panel.set_order(order_id, status="Completed")
        return order_id


def make_world(panel: Panel, balance: Decimal = START) -> World:
    return World(
        panel=panel,
        customer=panel.customer(balance=balance),
        default=panel.service(
            name="Followers", rate="0.90", refill=True, cancel=True, dripfeed=True
        ),
        comments=panel.service(
            name="Comments",
            type="Custom Comments",
            rate="12.34567",
            min_quantity=1,
            max_quantity=1000,
            cancel=True,
        ),
        subscription=panel.service(
            name="Auto likes",
            type="Subscriptions",
            rate="1.50",
            min_quantity=10,
            max_quantity=5000,
        ),
        mentions=panel.service(
            name="Mentions",
            type="Mentions with Hashtags",
            rate="2.00",
            min_quantity=10,
            max_quantity=1000,
        ),
        no_cancel=panel.service(name="Views", rate="3.00", min_quantity=100, max_quantity=1000),
    )


def service_row(services: list[dict[str, object]], service_id: int) -> dict[str, object]:
    [row] = [row for row in services if row["service"] == service_id]
    return row
