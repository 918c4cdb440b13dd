"""A running panel with payment methods pointed at the fake gateways, and the moves of a
payment's life: start it as a customer would, deliver callbacks as the gateway would."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from opensmm.audit.actor import Actor
from opensmm.ledger.models import LedgerEntry
from opensmm.payments import methods, service
from opensmm.payments.keys import panel_secret
from opensmm.payments.methods import Limits
from opensmm.payments.models import Payment, PaymentEvent
from tests.support.panel import Customer, Panel


@dataclass
class Payments:
    panel: Panel

    @property
    def secret(self) -> str:
        return panel_secret(self.panel.db)

    def method(self, name: str, gateway: str, settings: dict[str, str], **limits: Any) -> str:
        with self.panel.write() as session:
            methods.add_method(session, Actor.cli(), name=name, gateway=gateway,
                               panel_secret=self.secret, limits=Limits(**limits),
                               settings=settings)
        return name

    def start(self, customer: Customer, method: str, amount: str, **extra: Any) -> Payment:
        started = service.start(self.panel.db, self.secret, user_id=customer.id,
                                method_name=method, amount=amount, base_url=self.panel.url,
                                **extra)
        return self.payment(started.payment_id)

    def payment(self, payment_id: int) -> Payment:
        with self.panel.db.read() as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            session.expunge(payment)
            return payment

    def deliver(self, method: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.panel.http.post(f"{self.panel.url}/payments/callback/{method}",
                                    content=body, headers=headers)

    def events(self, payment_id: int | None = None) -> int:
        with self.panel.db.read() as session:
            query = select(func.count(PaymentEvent.id))
            if payment_id is not None:
                query = query.where(PaymentEvent.payment_id == payment_id)
            return int(session.scalar(query) or 0)

    def entries(self, payment_id: int) -> dict[str, Decimal]:
        with self.panel.db.read() as session:
            rows = session.execute(
                select(LedgerEntry.key, LedgerEntry.amount)
                .where(LedgerEntry.key.startswith(f"payment:{payment_id}:"))
            )
            return {key: amount for key, amount in rows}

    def assert_ledger_clean(self) -> None:
        assert self.panel.ledger_mismatches() == []
