"""Fake gateways on 127.0.0.1, one per test session, and gateways pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.payments.fakes.nowpayments import FakeNowPayments
from tests.payments.fakes.paypal import FakePayPal
from tests.payments.fakes.stripe import FakeStripe


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_fake(fake_stripe: FakeStripe) -> Iterator[FakeStripe]:
    """The session's fake Stripe, with its faults cleared after each test."""
    yield fake_stripe
    fake_stripe.fault = None


@pytest.fixture(scope="session")
def fake_paypal() -> Iterator[FakePayPal]:
    fake = FakePayPal().start()
    yield fake
    fake.stop()


@pytest.fixture
def paypal_fake(fake_paypal: FakePayPal) -> Iterator[FakePayPal]:
    yield fake_paypal
    fake_paypal.fault = None


@pytest.fixture(scope="session")
def fake_nowpayments() -> Iterator[FakeNowPayments]:
    fake = FakeNowPayments().start()
    yield fake
    fake.stop()


@pytest.fixture
def np_fake(fake_nowpayments: FakeNowPayments) -> Iterator[FakeNowPayments]:
    yield fake_nowpayments
    fake_nowpayments.fault = None
