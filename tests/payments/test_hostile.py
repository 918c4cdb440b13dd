"""Validly signed nonsense: every gateway answers it with a refusal, never a crash."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensmm.payments.gateways import PaymentState, VerificationError, VerifiedEvent
from opensmm.payments.gateways.nowpayments import NowPayments, parse_body, signature
from opensmm.payments.gateways.paypal import PayPalCheckout
from opensmm.payments.gateways.stripe_checkout import StripeCheckout
from tests.payments import test_nowpayments as nowpayments_tests
from tests.payments import test_paypal as paypal_tests
from tests.payments import test_stripe as stripe_tests
from tests.payments.fakes.nowpayments import FakeNowPayments
from tests.payments.fakes.paypal import FakePayPal
from tests.payments.fakes.stripe import FakeStripe

FIELDS = [
    "id", "type", "data", "object", "amount_total", "currency", "payment_status", "status",
    "client_reference_id", "metadata", "amount_refunded", "amount", "payment_intent",
    "event_type", "resource", "purchase_units", "custom_id", "value", "currency_code",
    "payment_id", "payment_status", "price_amount", "price_currency", "pay_amount",
    "actually_paid", "invoice_id", "order_id", "supplementary_data", "disputed_transactions",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["paid", "complete", "usd", "USD", "10.00", "finished", "COMPLETED",
                     "checkout.session.completed", "charge.refunded", "partially_paid",
                     "PAYMENT.CAPTURE.COMPLETED", "CUSTOMER.DISPUTE.CREATED", "1e400", "-5"]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=6),
    ),
    max_leaves=30,
)
EVENTS = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=10)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def stripe_gateway(fake_stripe: FakeStripe) -> Iterator[StripeCheckout]:
    gw = stripe_tests.gateway(fake_stripe)
    yield gw
    gw.close()


@pytest.fixture(scope="module")
def nowpayments_gateway(fake_nowpayments: FakeNowPayments) -> Iterator[NowPayments]:
    gw = nowpayments_tests.gateway(fake_nowpayments)
    yield gw
    gw.close()


@pytest.fixture(scope="module")
def paypal_gateway(fake_paypal: FakePayPal) -> Iterator[PayPalCheckout]:
    gw = paypal_tests.gateway(fake_paypal)
    yield gw
    gw.close()


def _check(event: VerifiedEvent) -> None:
    """If nonsense verifies, it is still a well-formed event."""
    assert isinstance(event.state, PaymentState)
    assert isinstance(event.event_id, str) and event.event_id
    assert event.amount is None or event.amount.is_finite()


@SETTINGS
@given(event=EVENTS)
def test_stripe_refuses_or_reads(
    stripe_gateway: StripeCheckout, fake_stripe: FakeStripe, event: dict[str, Any]
) -> None:
    gw = stripe_gateway
    body = json.dumps(event).encode()
    with contextlib.suppress(VerificationError):
        _check(gw.verify_callback(body, {"Stripe-Signature": fake_stripe.sign(body)}))


@SETTINGS
@given(event=EVENTS)
def test_nowpayments_refuses_or_reads(
    nowpayments_gateway: NowPayments, fake_nowpayments: FakeNowPayments, event: dict[str, Any]
) -> None:
    gw = nowpayments_gateway
    body = json.dumps(event).encode()
    # Signed as the gateway reads it, so that the nonsense gets past the signature.
    signed = signature(parse_body(body), fake_nowpayments.ipn_secret)
    with contextlib.suppress(VerificationError):
        _check(gw.verify_callback(body, {"x-nowpayments-sig": signed}))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=EVENTS)
def test_paypal_refuses_or_reads(
    paypal_gateway: PayPalCheckout, fake_paypal: FakePayPal, event: dict[str, Any]
) -> None:
    gw = paypal_gateway
    with contextlib.suppress(VerificationError):
        _check(gw.verify_callback(*fake_paypal.sign(json.dumps(event).encode())))
