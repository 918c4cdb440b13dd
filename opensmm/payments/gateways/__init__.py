"""Payment gateways, each a module behind one small interface (``base.Gateway``).

``gateway_for(name, settings)`` builds one from a payment method's decrypted settings;
``secret_settings(name)`` names the settings that are credentials (encrypted at rest,
shown masked).
"""

from __future__ import annotations

from collections.abc import Mapping

from opensmm.payments.gateways.base import (
    CreatedPayment,
    Gateway,
    GatewayConfigError,
    GatewayError,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    VerificationError,
    VerifiedEvent,
)
from opensmm.payments.gateways.manual import Manual
from opensmm.payments.gateways.nowpayments import NowPayments
from opensmm.payments.gateways.paypal import PayPalCheckout
from opensmm.payments.gateways.stripe_checkout import StripeCheckout

GATEWAYS: dict[str, type[StripeCheckout | PayPalCheckout | NowPayments | Manual]] = {
    StripeCheckout.name: StripeCheckout,
    PayPalCheckout.name: PayPalCheckout,
    NowPayments.name: NowPayments,
    Manual.name: Manual,
}


def gateway_for(name: str, settings: Mapping[str, str]) -> Gateway:
    cls = GATEWAYS.get(name)
    if cls is None:
        raise GatewayConfigError(f"unknown gateway {name[:40]!r}")
    return cls(settings)


def secret_settings(name: str) -> frozenset[str]:
    cls = GATEWAYS.get(name)
    if cls is None:
        raise GatewayConfigError(f"unknown gateway {name[:40]!r}")
    return cls.secret_settings


__all__ = [
    "GATEWAYS",
    "CreatedPayment",
    "Gateway",
    "GatewayConfigError",
    "GatewayError",
    "PaymentRequest",
    "PaymentState",
    "PaymentStatus",
    "VerificationError",
    "VerifiedEvent",
    "gateway_for",
    "secret_settings",
]
