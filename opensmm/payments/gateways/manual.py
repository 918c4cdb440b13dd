"""Manual payments: a bank transfer, a local wallet. No gateway is called.

The customer states the amount and their reference (the transfer's number, the wallet's
transaction id); staff check their account and approve or reject the payment later. This
gateway only validates what the customer typed and shows the method's instructions
(setting ``instructions``). There are no callbacks to verify and nothing to poll.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import ClassVar

from opensmm.payments.gateways.base import (
    CreatedPayment,
    GatewayError,
    PaymentRequest,
    PaymentStatus,
    VerificationError,
    VerifiedEvent,
)
from opensmm.payments.gateways.units import AmountError, check_amount, currency_code, exponent

MAX_REFERENCE_LENGTH = 100
MIN_REFERENCE_LENGTH = 3


class InvalidReference(AmountError):
    """The customer's reference is not acceptable (a refusal to show them)."""


def clean_reference(value: str | None) -> str:
    """The customer's reference, trimmed; refused if empty, too long or not plain text."""
    if not isinstance(value, str):
        raise InvalidReference("enter the reference of your payment")
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if len(text) < MIN_REFERENCE_LENGTH:
        raise InvalidReference("enter the reference of your payment")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise InvalidReference(f"the reference is longer than {MAX_REFERENCE_LENGTH} characters")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in text):
        raise InvalidReference("the reference holds characters that are not text")
    return text


class Manual:
    name: ClassVar[str] = "manual"
    automatic: ClassVar[bool] = False
    secret_settings: ClassVar[frozenset[str]] = frozenset()
    known_settings: ClassVar[frozenset[str]] = frozenset({"instructions"})

    def __init__(self, settings: Mapping[str, str]) -> None:
        self.instructions = str(settings.get("instructions") or "").strip() or None

    def __repr__(self) -> str:
        return "Manual()"

    def close(self) -> None:
        pass

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        currency = currency_code(request.currency)
        amount = check_amount(request.amount, exponent(currency))
        reference = clean_reference(request.customer_reference)
        return CreatedPayment(
            reference=reference,
            redirect_url=None,
            instructions=self.instructions,
            raw={"amount": format(amount, "f"), "currency": currency, "reference": reference},
        )

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        raise VerificationError("manual payments have no callbacks")

    def fetch_payment(self, reference: str) -> PaymentStatus:
        raise GatewayError("manual payments are settled by staff", retryable=False)

    def complete_payment(self, reference: str) -> PaymentStatus:
        raise GatewayError("manual payments are settled by staff", retryable=False)
