"""Factories for the coupon and affiliate tests: customers, a manual method, payments, and
reports as a gateway would send them."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from opensmm.accounts import service as accounts
from opensmm.affiliates import service as affiliates
from opensmm.audit.actor import Actor
from opensmm.db import Database
from opensmm.ledger import service as ledger
from opensmm.ledger.models import LedgerEntry
from opensmm.payments import methods
from opensmm.payments import service as payments
from opensmm.payments.gateways.base import PaymentState
from opensmm.payments.models import Payment, PaymentMethod
from opensmm.payments.reports import Report, apply

SECRET = "growth-tests-panel-secret-of-forty-characters"
ACTOR = Actor.cli()


def customer(db: Database, balance: str = "0") -> int:
    name = f"c{uuid.uuid4().hex[:10]}"
    with db.write() as session:
        user = accounts.create_user(session, name, email=f"{name}@example.test")
        if Decimal(balance):
            ledger.add_funds(session, user.id, Decimal(balance), memo="", actor="test")
        return user.id


def manual_method(db: Database, *, fee: str = "0", bonus: str = "0") -> str:
    name = f"bank-{uuid.uuid4().hex[:6]}"
    with db.write() as session:
        methods.add_method(
            session, ACTOR, name=name, gateway="manual", panel_secret=SECRET,
            limits=methods.Limits(fee_percent=Decimal(fee), bonus_percent=Decimal(bonus)),
        )
    return name


def start(db: Database, user_id: int, method: str, amount: str,
          coupon: str | None = None) -> payments.Started:
    return payments.start(db, SECRET, user_id=user_id, method_name=method, amount=amount,
                          base_url="http://127.0.0.1", customer_reference="TRX-12345",
                          coupon_code=coupon)


def report(db: Database, payment_id: int, state: PaymentState, amount: str | None = None,
           event_id: str | None = None, *, review: bool = False) -> None:
    """What a gateway's verified callback does (the same ``apply`` as the callback route)."""
    with db.write() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        method = session.get(PaymentMethod, payment.method_id)
        assert method is not None
        apply(session, payment_id, method, Report(
            source="callback", event_id=event_id or f"{state.value}:{amount}:{payment_id}",
            event_type=f"test.{state.value}", state=state,
            amount=None if amount is None else Decimal(amount), currency="USD",
            needs_review=review,
        ))


def approve(db: Database, payment_id: int, amount: str | None = None) -> None:
    with db.write() as session:
        payments.approve(session, ACTOR, payment_id,
                         None if amount is None else Decimal(amount))


def payment(db: Database, payment_id: int) -> Payment:
    with db.read() as session:
        found = session.get(Payment, payment_id)
        assert found is not None
        session.expunge(found)
        return found


def balance(db: Database, user_id: int) -> Decimal:
    with db.read() as session:
        user = accounts.get_user_by_id(session, user_id)
        return user.balance


def keys(db: Database, user_id: int) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(LedgerEntry.key).where(
            LedgerEntry.user_id == user_id).order_by(LedgerEntry.id)))


def consistent(db: Database) -> None:
    """The ledger and the affiliate balances hold exactly what their entries say."""
    with db.read() as session:
        assert ledger.check(session) == []
        assert affiliates.check(session) == []
