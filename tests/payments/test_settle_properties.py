"""Whatever a gateway reports, in whatever order and however often, a payment ends in one
place: the same state and the same money, and the ledger holds exactly what the payment says
it credited (hypothesis, on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from opensmm.accounts import service as accounts
from opensmm.db import Database
from opensmm.ledger.models import LedgerEntry
from opensmm.ledger.service import check
from opensmm.payments.gateways import PaymentState
from opensmm.payments.models import Payment, PaymentMethod
from opensmm.payments.reports import Report, apply

AMOUNT = Decimal("80.00")


def _report(kind: str, value: Decimal, event: int) -> Report:
    states = {"paid": PaymentState.PAID, "over": PaymentState.PAID,
              "partial": PaymentState.PARTIALLY_PAID, "refund": PaymentState.REFUNDED,
              "dispute": PaymentState.DISPUTED, "expired": PaymentState.EXPIRED,
              "failed": PaymentState.FAILED, "pending": PaymentState.PENDING}
    amount = {"paid": AMOUNT, "over": AMOUNT, "partial": value, "refund": value,
              "dispute": AMOUNT}.get(kind)
    return Report(source="callback", event_id=f"evt-{kind}-{value}-{event}",
                  event_type=kind, state=states[kind], amount=amount,
                  currency="USD" if amount is not None else None,
                  needs_review=kind in {"over", "partial"})


values = st.decimals(min_value=Decimal("0.01"), max_value=AMOUNT, places=2)
reports = st.lists(
    st.builds(_report,
              st.sampled_from(["paid", "over", "partial", "refund", "dispute", "expired",
                               "failed", "pending"]),
              values, st.integers(0, 2)),
    min_size=1, max_size=8,
)


def _method(db: Database) -> int:
    with db.write() as session:
        method = PaymentMethod(name=f"m{uuid.uuid4().hex[:8]}", gateway="stripe",
                               settings={}, instructions={}, min_amount=Decimal(1),
                               fee_percent=Decimal("2.5"), bonus_percent=Decimal("4"),
                               bonus_from=Decimal("50"))
        session.add(method)
        session.flush()
        return method.id


def _payment(db: Database, method_id: int) -> int:
    with db.write() as session:
        user = accounts.create_user(session, f"u{uuid.uuid4().hex[:10]}")
        payment = Payment(token=uuid.uuid4().hex, user_id=user.id, method_id=method_id,
                          gateway="stripe", amount=AMOUNT, currency="USD",
                          fee_percent=Decimal("2.5"), bonus_percent=Decimal("4"),
                          bonus_from=Decimal("50"))
        session.add(payment)
        session.flush()
        return payment.id


def _run(db: Database, method_id: int, sequence: list[Report]) -> tuple[object, ...]:
    payment_id = _payment(db, method_id)
    # a gateway's event ids are unique on its account: each payment's are its own
    for report in (replace(r, event_id=f"{payment_id}:{r.event_id}") for r in sequence):
        with db.write() as session:
            method = session.get(PaymentMethod, method_id)
            assert method is not None
            apply(session, payment_id, method, report)
    with db.read() as session:
        p = session.get(Payment, payment_id)
        assert p is not None
        held = session.scalar(select(func.sum(LedgerEntry.amount)).where(
            LedgerEntry.key.startswith(f"payment:{payment_id}:"))) or Decimal(0)
        balance = session.scalar(select(LedgerEntry.balance_after).where(
            LedgerEntry.user_id == p.user_id).order_by(LedgerEntry.id.desc()).limit(1))
        # the ledger holds exactly what the payment says it credited, never more than paid
        assert held == p.credited
        assert (balance or Decimal(0)) == p.credited
        assert p.paid <= AMOUNT and p.credited >= 0 and p.shortfall == 0
        return (p.state, p.paid, p.fee, p.bonus, p.reversed, p.shortfall)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=reports, data=st.data())
def test_any_order_and_any_repetition_ends_in_the_same_place(
    db: Database, sequence: list[Report], data: st.DataObject
) -> None:
    method_id = _method(db)
    shuffled = data.draw(st.permutations(sequence))
    repeated = shuffled + data.draw(st.lists(st.sampled_from(sequence), max_size=4))
    # the same facts under other event ids: a gateway's second notification of one thing
    renamed = [replace(r, event_id=r.event_id + "-again") for r in sequence]
    first = _run(db, method_id, sequence)
    assert _run(db, method_id, repeated) == first
    assert _run(db, method_id, sequence + renamed) == first
    with db.read() as session:
        assert check(session) == []
