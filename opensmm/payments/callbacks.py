"""``POST /payments/callback/{method}``: a gateway tells us about a payment.

Verify first (the gateway's signature, by its own rules), then find our payment, check that
what is reported fits it, and apply it, all in one transaction: the callback is answered 2xx
only once it is committed, so a crash before the commit makes the gateway deliver it again.
What does not verify or fit is answered 4xx and writes nothing; the log line it earns is
rate-limited, so a flood of forgeries cannot fill the disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.payments import methods as payment_methods
from opensmm.payments.gateways import GatewayError, VerificationError
from opensmm.payments.gateways.base import MAX_CALLBACK_BYTES
from opensmm.payments.models import PaymentMethod
from opensmm.payments.polling import refresh
from opensmm.payments.reports import EventRefused, apply, find_payment, from_event

log = logging.getLogger("opensmm.payments.callbacks")


@dataclass(frozen=True)
class Answer:
    status: int
    message: str


class _Throttle:
    """At most ``burst`` log lines per ``period`` seconds; the rest are counted."""

    def __init__(self, burst: int = 20, period: float = 60.0) -> None:
        self.burst, self.period = burst, period
        self._lock = threading.Lock()
        self._start = 0.0
        self._count = 0
        self._dropped = 0

    def warn(self, message: str, *args: object) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._start > self.period:
                if self._dropped:
                    log.warning("%d refused callbacks were not logged", self._dropped)
                self._start, self._count, self._dropped = now, 0, 0
            self._count += 1
            if self._count > self.burst:
                self._dropped += 1
                return
        log.warning(message, *args)


refusals = _Throttle()


def handle(db: Database, panel_secret: str, method_name: str, body: bytes,
           headers: Mapping[str, str]) -> Answer:
    if len(body) > MAX_CALLBACK_BYTES:
        return Answer(413, "too large")
    with db.read() as session:
        method = session.scalar(
            select(PaymentMethod).where(PaymentMethod.name == method_name[:40])
        )
        if method is None:
            refusals.warn("callback for an unknown method %r", method_name[:40])
            return Answer(404, "unknown method")
        try:
            gateway = payment_methods.open_gateway(method, panel_secret)
        except DomainError as exc:
            refusals.warn("callback for %s: %s", method.name, exc.message)
            return Answer(503, "method not configured")
        session.expunge(method)
    try:
        if not gateway.automatic:
            return Answer(404, "this method takes no callbacks")
        try:
            event = gateway.verify_callback(body, headers)
        except VerificationError as exc:
            refusals.warn("callback for %s refused: %s", method.name, exc.message)
            return Answer(400, "not verified")
        except GatewayError as exc:  # verifying needed the gateway, which failed: retry
            log.warning("callback for %s could not be verified now: %s", method.name,
                        exc.message)
            return Answer(503, "try again later")
    finally:
        gateway.close()
    report = from_event(event)
    try:
        with db.write() as session:
            payment_id = find_payment(session, method, event.payment_id,
                                      (event.reference, *event.other_references))
            applied = apply(session, payment_id, method, report)
    except EventRefused as exc:
        refusals.warn("callback %s for %s refused: %s", event.event_id[:80], method.name,
                      exc.message)
        return Answer(exc.status, exc.message)
    if event.needs_completion and not applied.duplicate:
        # PayPal: the customer approved; capture now rather than at the next poll.
        refresh(db, panel_secret, payment_id, source="callback")
    return Answer(200, "duplicate" if applied.duplicate else "ok")
