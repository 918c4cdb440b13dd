"""A stateful fake upstream panel on top of ``tests.fakepanel``: it remembers the orders it
was sent and answers ``status``, ``cancel``, ``refill`` and ``refill_status`` from them.

Tests set what each order's status is (``book.set(upstream_id, "Partial", remains=5)``)
and count what arrived (``book.adds_by_link``: a link sent twice shows up as 2).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakepanel import FakePanel, Received


@dataclass
class UpOrder:
    id: int
    link: str
    params: dict[str, str]
    status: str = "Pending"
    remains: int = 0
    start_count: int = 0
    canceled: bool = False
    # A subscription's posts so far, answered as ``posts`` (as opensmm does); None: not said.
    posts: int | None = None


@dataclass
class Book:
    """The fake upstream's memory (thread-safe: the fake panel serves on threads)."""

    first_id: int = 5000
    # The status a new order starts with, from its link and quantity: (status, remains).
    initial: Callable[[str, int], tuple[str, int]] | None = None
    orders: dict[int, UpOrder] = field(default_factory=dict)
    refills: dict[int, str] = field(default_factory=dict)
    adds_by_link: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, panel: FakePanel) -> FakePanel:
        panel.on("add", self.add)
        panel.on("status", self.status)
        panel.on("cancel", self.cancel)
        panel.on("refill", self.refill)
        panel.on("refill_status", self.refill_status)
        panel.on("balance", {"balance": "1000.00", "currency": "USD"})
        return panel

    def set(self, upstream_id: int, status: str, *, remains: int | None = None,
            start_count: int | None = None) -> None:
        with self.lock:
            order = self.orders[upstream_id]
            order.status = status
            if remains is not None:
                order.remains = remains
            if start_count is not None:
                order.start_count = start_count

    def set_all(self, status: str, remains: int | None = None) -> None:
        for upstream_id in list(self.orders):
            self.set(upstream_id, status, remains=remains)

    # --- actions -------------------------------------------------------------------

    def add(self, received: Received) -> Any:
        with self.lock:
            new_id = self.first_id + len(self.orders)
            link = received.params.get("link", "")
            quantity = int(received.params.get("quantity") or 1)
            status, remains = (
                self.initial(link, quantity) if self.initial else ("Pending", quantity)
            )
            self.orders[new_id] = UpOrder(
                new_id, link, dict(received.params), status=status, remains=remains
            )
            self.adds_by_link[link] += 1
        return {"order": new_id}

    def _one(self, order_id: str) -> Any:
        order = self.orders.get(int(order_id)) if order_id.isdigit() else None
        if order is None:
            return {"error": "Incorrect order ID"}
        answer = {
            "charge": "0.10",
            "start_count": str(order.start_count),
            "status": order.status,
            "remains": str(order.remains),
            "currency": "USD",
        }
        if order.posts is not None:
            answer["posts"] = str(order.posts)
        return answer

    def status(self, received: Received) -> Any:
        with self.lock:
            if "orders" in received.params:
                ids = [i for i in received.params["orders"].split(",") if i]
                return {i: self._one(i) for i in ids}
            return self._one(received.params.get("order", ""))

    def cancel(self, received: Received) -> Any:
        raw = received.params.get("orders") or received.params.get("order") or ""
        answers = []
        with self.lock:
            for item in [i for i in raw.split(",") if i]:
                order = self.orders.get(int(item))
                if order is None:
                    answers.append({"order": int(item), "cancel": {"error": "Incorrect order ID"}})
                else:
                    order.canceled = True
                    answers.append({"order": int(item), "cancel": 1})
        return answers

    def refill(self, received: Received) -> Any:
        with self.lock:
            new_id = 900 + len(self.refills)
            self.refills[new_id] = "Pending"
        return {"refill": str(new_id)}

    def refill_status(self, received: Received) -> Any:
        with self.lock:
            if "refills" in received.params:
                ids = [int(i) for i in received.params["refills"].split(",") if i]
                return [{"refill": i, "status": self.refills.get(i, "Pending")} for i in ids]
            return {"status": self.refills.get(int(received.params.get("refill", "0")), "")}
