"""What a gateway (or a person) says about a payment, in one shape, and how it is applied.

A callback's ``VerifiedEvent``, a poll's ``PaymentStatus`` and a staff approval all become a
``Report``; ``apply`` records it once (per method and event id) and lets ``settle`` move the
payment and the ledger. Whatever does not match the payment we asked for (another currency,
another amount when the gateway does not say the difference needs a person) is refused and
nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.db.insert import insert_for
from opensmm.payments.gateways.base import PaymentState, PaymentStatus, VerifiedEvent
from opensmm.payments.models import (
    Payment,
    PaymentEvent,
    PaymentMethod,
    PaymentReference,
)
from opensmm.payments.settle import lock, settle

MAX_RAW = 16_000
MONEY_STATES = frozenset(
    {PaymentState.PAID, PaymentState.PARTIALLY_PAID, PaymentState.REFUNDED,
     PaymentState.DISPUTED}
)


class EventRefused(Exception):
    """A verified report that does not fit its payment: answered with ``status``, nothing
    written. The message is for logs and staff: no secret, no raw body."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Report:
    source: str  # callback, poll, return, staff, cli
    event_id: str
    event_type: str
    state: PaymentState
    amount: Decimal | None
    currency: str | None
    reference: str | None = None
    references: tuple[str, ...] = ()
    needs_review: bool = False
    needs_completion: bool = False
    note: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


def from_event(event: VerifiedEvent, source: str = "callback") -> Report:
    return Report(
        source=source, event_id=event.event_id[:200], event_type=event.event_type[:64],
        state=event.state, amount=event.amount, currency=event.currency,
        reference=event.reference, references=event.other_references,
        needs_review=event.needs_review, needs_completion=event.needs_completion,
        note=event.note or "", raw=event.raw,
    )


def from_status(status: PaymentStatus, payment_id: int, source: str) -> Report:
    # A poll has no event id: the same answer twice is the same report.
    amount = "" if status.amount is None else format(status.amount, "f")
    return Report(
        source=source, event_id=f"{source}:{payment_id}:{status.state.value}:{amount}"[:200],
        event_type=f"{source}.{status.state.value}", state=status.state,
        amount=status.amount, currency=status.currency, reference=status.reference,
        references=status.other_references, needs_review=status.needs_review,
        needs_completion=status.needs_completion, note=status.note or "", raw=status.raw,
    )


def _raw(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    if not raw:
        return None
    text = json.dumps(raw, default=str, sort_keys=True)
    if len(text) > MAX_RAW:
        return {"truncated": text[:MAX_RAW]}
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def find_payment(session: Session, method: PaymentMethod, token: str | None,
                 references: tuple[str | None, ...]) -> int:
    """Our payment named by a verified callback: by our token, else by any gateway id."""
    if token:
        found = session.execute(
            select(Payment.id, Payment.method_id).where(Payment.token == token[:32])
        ).first()
        if found is not None:
            if found.method_id != method.id:
                raise EventRefused("the payment belongs to another method", 409)
            return int(found.id)
    for reference in references:
        if not reference:
            continue
        payment_id = session.scalar(
            select(PaymentReference.payment_id).where(
                PaymentReference.method_id == method.id,
                PaymentReference.reference == reference[:200],
            )
        )
        if payment_id is not None:
            return int(payment_id)
    raise EventRefused("no such payment", 404)


def remember_references(session: Session, payment: Payment, references: tuple[str | None, ...]
                        ) -> None:
    """Record the gateway's ids for the payment; one already naming another payment is
    left alone (the lookup goes by our token first)."""
    for reference in {r[:200] for r in references if r}:
        session.execute(
            insert_for(session, PaymentReference)
            .values(method_id=payment.method_id, reference=reference, payment_id=payment.id)
            .on_conflict_do_nothing(index_elements=["method_id", "reference"])
        )


def _record(session: Session, payment: Payment, report: Report) -> bool:
    """Store the report once; False if this method already recorded this event id."""
    inserted = session.execute(
        insert_for(session, PaymentEvent)
        .values(
            method_id=payment.method_id, payment_id=payment.id, source=report.source,
            event_id=report.event_id, event_type=report.event_type,
            state=report.state.value, amount=report.amount,
            currency=(report.currency or None) and report.currency[:8],
            note=report.note[:2000], raw=_raw(report.raw),
        )
        .on_conflict_do_nothing(index_elements=["method_id", "event_id"])
        .returning(PaymentEvent.id)
    ).first()
    return inserted is not None


def _check(payment: Payment, report: Report) -> Decimal | None:
    """The amount the report stands for, in the payment's currency; refuses a mismatch."""
    if report.state not in MONEY_STATES:
        return None
    if report.currency and report.currency.upper() != payment.currency.upper():
        raise EventRefused(
            f"currency {report.currency[:8]!r} does not match the payment's {payment.currency}"
        )
    amount = report.amount
    if amount is None:
        if report.state in (PaymentState.PAID, PaymentState.REFUNDED, PaymentState.DISPUTED):
            return payment.amount
        raise EventRefused("a partial payment without an amount")
    if amount <= 0:
        raise EventRefused("the amount is not positive")
    if report.state == PaymentState.PAID and amount != payment.amount and not report.needs_review:
        raise EventRefused(
            f"the amount paid ({amount}) does not match the payment's ({payment.amount})"
        )
    if report.state == PaymentState.PARTIALLY_PAID and amount > payment.amount:
        raise EventRefused("a partial payment above the amount asked")
    return amount


@dataclass(frozen=True)
class Applied:
    payment_id: int
    state: str
    duplicate: bool


def apply(session: Session, payment_id: int, method: PaymentMethod, report: Report) -> Applied:
    """Record ``report`` and settle the payment, in the caller's transaction."""
    payment = lock(session, payment_id)
    amount = _check(payment, report)
    if not _record(session, payment, report):
        return Applied(payment.id, payment.state, duplicate=True)
    remember_references(session, payment, (report.reference, *report.references))
    if report.reference and not payment.reference:
        payment.reference = report.reference[:200]
    if report.state in (PaymentState.PAID, PaymentState.PARTIALLY_PAID):
        assert amount is not None
        payment.paid_target = max(payment.paid_target, amount)
    elif report.state == PaymentState.REFUNDED:
        assert amount is not None
        payment.refund_target = max(payment.refund_target, amount)
    elif report.state == PaymentState.DISPUTED:
        payment.disputed = True
    elif report.state in (PaymentState.EXPIRED, PaymentState.FAILED):
        payment.closed_as = payment.closed_as or report.state.value
    if report.needs_review:
        payment.needs_review = True
    if report.note:
        payment.note = report.note[:2000]
    settle(session, payment, method.label)
    return Applied(payment.id, payment.state, duplicate=False)
