"""Asking gateways about open payments, so that a lost callback loses no money.

The worker claims payments that are due (pushing their next poll back first, so that two
workers do not ask twice), asks each gateway with no transaction open, and applies the answer
like a callback. A payment the customer approved but the panel must still complete (PayPal's
capture) is completed here too. The wait between two polls doubles up to a ceiling; after
``payment_poll_days`` a payment still open is left for staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from opensmm.coupons import service as coupons
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.payments import methods as payment_methods
from opensmm.payments.gateways import GatewayError, PaymentState, PaymentStatus
from opensmm.payments.models import OPEN, Payment, PaymentMethod
from opensmm.payments.reports import EventRefused, apply, from_status
from opensmm.payments.settle import lock
from opensmm.settings import get_settings

log = logging.getLogger("opensmm.payments")

NO_REFERENCE_LIMIT = timedelta(days=1)


@dataclass(frozen=True)
class Due:
    payment_id: int
    method_id: int
    reference: str


def _wait(count: int) -> timedelta:
    settings = get_settings()
    seconds = min(settings.payment_poll_seconds * 2 ** min(count, 20),
                  settings.payment_poll_max_seconds)
    return timedelta(seconds=seconds)


def claim_due(db: Database, now: datetime, limit: int = 50) -> list[Due]:
    """Open payments whose poll is due, each pushed back before it is asked about."""
    horizon = now - timedelta(days=get_settings().payment_poll_days)
    due_now = (Payment.state.in_([s.value for s in OPEN]), Payment.gateway != "manual",
               Payment.next_poll_at.is_not(None), Payment.next_poll_at <= now)
    with db.read() as session:  # the worker asks every pass: no write lock when idle
        if session.scalar(select(Payment.id).where(*due_now).limit(1)) is None:
            return []
    with db.write() as session:
        query = select(Payment).where(*due_now).order_by(Payment.next_poll_at).limit(limit)
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        due: list[Due] = []
        for payment in session.scalars(query):
            if payment.created_at < horizon:
                payment.next_poll_at = None
                payment.needs_review = True
                payment.last_error = "no final answer from the gateway; polling stopped"
                continue
            if not payment.reference and payment.created_at < now - NO_REFERENCE_LIMIT:
                # The gateway's answer never reached us (a crash between its answer and our
                # commit): the customer never saw where to pay. A callback may still come.
                payment.next_poll_at = None
                payment.closed_as = payment.state = PaymentState.EXPIRED.value
                coupons.settled(session, payment)  # the coupon's use is released
                continue
            payment.next_poll_at = now + _wait(payment.poll_count)
            payment.poll_count += 1
            if payment.reference:
                due.append(Due(payment.id, payment.method_id, payment.reference))
        return due


def refresh(db: Database, panel_secret: str, payment_id: int, *, source: str) -> str:
    """Ask the payment's gateway where it stands, and apply the answer. Returns the state."""
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            return "unknown"
        method = session.get(PaymentMethod, payment.method_id)
        assert method is not None
        if payment.gateway == "manual" or not payment.reference or payment.state not in {
            s.value for s in OPEN
        }:
            return payment.state
        reference = payment.reference
        try:
            gateway = payment_methods.open_gateway(method, panel_secret)
        except DomainError as exc:
            _note_error(db, payment_id, exc.message)
            return payment.state
        state = payment.state
    try:
        status = gateway.fetch_payment(reference)
        if status.needs_completion:
            status = gateway.complete_payment(reference)
    except GatewayError as exc:
        _note_error(db, payment_id, exc.message)
        return state
    finally:
        gateway.close()
    return _apply_status(db, payment_id, status, source)


def _apply_status(db: Database, payment_id: int, status: PaymentStatus, source: str) -> str:
    try:
        with db.write() as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            method = session.get(PaymentMethod, payment.method_id)
            assert method is not None
            return apply(session, payment_id, method, from_status(status, payment_id,
                                                                  source)).state
    except EventRefused as exc:
        log.warning("payment %s: the gateway's answer does not fit it: %s", payment_id,
                    exc.message)
        _note_error(db, payment_id, exc.message, review=True)
        return "refused"


def _note_error(db: Database, payment_id: int, message: str, *, review: bool = False) -> None:
    with db.write() as session:
        payment = lock(session, payment_id)
        payment.last_error = message[:500]
        if review:
            payment.needs_review = True


def poll_due(db: Database, panel_secret: str, now: datetime | None = None,
             limit: int = 50) -> int:
    """One pass: how many payments were asked about."""
    due = claim_due(db, now or db.now(), limit)
    for item in due:
        try:
            refresh(db, panel_secret, item.payment_id, source="poll")
        except Exception:  # one payment's surprise must not stop the others
            log.exception("payment %s: polling failed", item.payment_id)
    return len(due)
