"""Small factories and checks shared by the gateway tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

from opensmm.payments.gateways import PaymentRequest

_ids = itertools.count(1)


def new_request(
    amount: str = "10.00", currency: str = "USD", *, customer_reference: str | None = None
) -> PaymentRequest:
    payment_id = f"p{next(_ids)}"
    return PaymentRequest(
        payment_id=payment_id,
        amount=Decimal(amount),
        currency=currency,
        return_url=f"https://panel.example/funds/return/{payment_id}",
        cancel_url=f"https://panel.example/funds/cancel/{payment_id}",
        callback_url="https://panel.example/payments/callback/main",
        customer_reference=customer_reference,
    )


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, "a credential leaked into a message or repr"
        assert secret[-8:] not in text, "part of a credential leaked"


HOSTILE_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    b"123",
    b'"a string"',
    b"{}",
    b'{"id": null}',
    b'{"id": [], "type": {}, "data": 5}',
    b'{"a": NaN}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"x": "' + b"A" * 1_000_000 + b'"}',
]
