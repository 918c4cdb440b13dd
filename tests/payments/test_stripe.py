"""Stripe Checkout through the real ``stripe`` library, against a fake Stripe API."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from opensmm.payments.gateways import GatewayError, PaymentState, VerificationError
from opensmm.payments.gateways.stripe_checkout import StripeCheckout
from tests.payments.fakes.server import free_port
from tests.payments.fakes.stripe import FakeStripe
from tests.payments.helpers import HOSTILE_BODIES, assert_no_secret, new_request


def gateway(fake: FakeStripe, **extra: str) -> StripeCheckout:
    settings = {
        "secret_key": fake.secret_key,
        "webhook_secret": fake.webhook_secret,
        "api_base": fake.url,
        "timeout": "2",
        **extra,
    }
    return StripeCheckout(settings)


def deliver(gw: StripeCheckout, fake: FakeStripe, body: bytes):  # type: ignore[no-untyped-def]
    return gw.verify_callback(body, {"Stripe-Signature": fake.sign(body)})


def test_create_then_paid(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    request = new_request("12.34")
    created = gw.create_payment(request)
    assert created.reference.startswith("cs_test_")
    assert created.redirect_url == f"https://checkout.stripe.com/c/pay/{created.reference}"
    session = stripe_fake.sessions[created.reference]
    assert session["amount_total"] == 1234 and session["currency"] == "usd"
    assert session["client_reference_id"] == request.payment_id
    assert session["metadata"] == {"opensmm_payment_id": request.payment_id}

    body = stripe_fake.event("checkout.session.completed", stripe_fake.complete(created.reference))
    event = deliver(gw, stripe_fake, body)
    assert event.state is PaymentState.PAID
    assert event.reference == created.reference
    assert event.payment_id == request.payment_id
    assert (event.amount, event.currency) == (Decimal("12.34"), "USD")
    assert event.other_references == (session["payment_intent"],)
    assert event.event_id.startswith("evt_") and event.event_type == "checkout.session.completed"


def test_create_is_idempotent_per_payment(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    request = new_request("5.00")
    assert gw.create_payment(request).reference == gw.create_payment(request).reference


def test_zero_and_three_decimal_currencies(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    jpy = gw.create_payment(new_request("1500", "JPY"))
    assert stripe_fake.sessions[jpy.reference]["amount_total"] == 1500
    kwd = gw.create_payment(new_request("1.234", "KWD"))
    assert stripe_fake.sessions[kwd.reference]["amount_total"] == 1234
    with pytest.raises(GatewayError, match="decimal places"):
        gw.create_payment(new_request("10.5", "JPY"))


def test_duplicate_delivery_is_the_same_event(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request())
    body = stripe_fake.event("checkout.session.completed", stripe_fake.complete(created.reference))
    first = deliver(gw, stripe_fake, body)
    # Stripe redelivers the same event, signed again at another time.
    second = gw.verify_callback(
        body, {"stripe-signature": stripe_fake.sign(body, timestamp=int(time.time()) - 60)}
    )
    assert first.event_id == second.event_id
    assert (first.state, first.amount) == (second.state, second.amount)


def test_forged_signature_is_refused(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request())
    body = stripe_fake.event("checkout.session.completed", stripe_fake.complete(created.reference))
    forged = stripe_fake.sign(body, secret="whsec_attacker_guess")
    with pytest.raises(VerificationError) as refused:
        gw.verify_callback(body, {"Stripe-Signature": forged})
    assert_no_secret(str(refused.value), stripe_fake.webhook_secret, stripe_fake.secret_key)
    for header in ({}, {"Stripe-Signature": ""}, {"Stripe-Signature": "garbage"}):
        with pytest.raises(VerificationError):
            gw.verify_callback(body, header)


def test_old_signature_is_refused(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request())
    body = stripe_fake.event("checkout.session.completed", stripe_fake.complete(created.reference))
    stale = stripe_fake.sign(body, timestamp=int(time.time()) - 3600)
    with pytest.raises(VerificationError):
        gw.verify_callback(body, {"Stripe-Signature": stale})


def test_tampered_body_is_refused(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request("10.00"))
    body = stripe_fake.event("checkout.session.completed", stripe_fake.complete(created.reference))
    signature = stripe_fake.sign(body)
    tampered = body.replace(b'"amount_total": 1000', b'"amount_total": 100000')
    assert tampered != body
    with pytest.raises(VerificationError):
        gw.verify_callback(tampered, {"Stripe-Signature": signature})


def test_wrong_amount_or_currency_is_reported_as_is(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request("10.00"))
    session = stripe_fake.complete(created.reference, amount_total=999)
    session["currency"] = "eur"
    event = deliver(gw, stripe_fake, stripe_fake.event("checkout.session.completed", session))
    # The gateway says what Stripe says; the caller compares with what it asked for.
    assert (event.amount, event.currency) == (Decimal("9.99"), "EUR")


def test_delayed_method_then_succeeded_or_failed(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request("20.00"))
    unpaid = stripe_fake.complete(created.reference, payment_status="unpaid")
    event = deliver(gw, stripe_fake, stripe_fake.event("checkout.session.completed", unpaid))
    assert event.state is PaymentState.PENDING
    assert gw.fetch_payment(created.reference).state is PaymentState.PENDING
    paid = stripe_fake.complete(created.reference, payment_status="paid")
    event = deliver(
        gw, stripe_fake, stripe_fake.event("checkout.session.async_payment_succeeded", paid)
    )
    assert (event.state, event.amount) == (PaymentState.PAID, Decimal("20.00"))
    failed = deliver(
        gw, stripe_fake, stripe_fake.event("checkout.session.async_payment_failed", unpaid)
    )
    assert failed.state is PaymentState.FAILED


def test_expired(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request())
    session = stripe_fake.expire(created.reference)
    event = deliver(gw, stripe_fake, stripe_fake.event("checkout.session.expired", session))
    assert event.state is PaymentState.EXPIRED
    assert gw.fetch_payment(created.reference).state is PaymentState.EXPIRED


def test_refunded_whole_and_in_part(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    request = new_request("10.00")
    created = gw.create_payment(request)
    stripe_fake.complete(created.reference)
    intent = stripe_fake.sessions[created.reference]["payment_intent"]
    whole = deliver(
        gw,
        stripe_fake,
        stripe_fake.event("charge.refunded", stripe_fake.charge(created.reference, refunded=1000)),
    )
    assert whole.state is PaymentState.REFUNDED
    assert (whole.amount, whole.currency, whole.note) == (Decimal("10.00"), "USD", None)
    assert whole.payment_id == request.payment_id and intent in whole.other_references
    part = deliver(
        gw,
        stripe_fake,
        stripe_fake.event("charge.refunded", stripe_fake.charge(created.reference, refunded=250)),
    )
    assert (part.state, part.amount, part.note) == (
        PaymentState.REFUNDED,
        Decimal("2.50"),
        "partly refunded",
    )


def test_disputed(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request("10.00"))
    stripe_fake.complete(created.reference)
    intent = stripe_fake.sessions[created.reference]["payment_intent"]
    body = stripe_fake.event("charge.dispute.created", stripe_fake.dispute(created.reference))
    event = deliver(gw, stripe_fake, body)
    assert event.state is PaymentState.DISPUTED
    assert (event.amount, event.currency) == (Decimal("10.00"), "USD")
    assert intent in event.other_references and event.payment_id is None


def test_lost_webhook_recovered_by_polling(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    request = new_request("7.50")
    created = gw.create_payment(request)
    assert gw.fetch_payment(created.reference).state is PaymentState.PENDING
    stripe_fake.complete(created.reference)  # paid; the webhook never arrives
    status = gw.fetch_payment(created.reference)
    assert (status.state, status.amount, status.currency) == (
        PaymentState.PAID,
        Decimal("7.50"),
        "USD",
    )
    assert status.payment_id == request.payment_id
    assert gw.complete_payment(created.reference).state is PaymentState.PAID


def test_unknown_event_types_are_refused(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    body = stripe_fake.event("customer.created", {"id": "cus_1", "object": "customer"})
    with pytest.raises(VerificationError, match="not handled"):
        deliver(gw, stripe_fake, body)


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_are_refused(stripe_fake: FakeStripe, body: bytes) -> None:
    gw = gateway(stripe_fake)
    with pytest.raises(VerificationError):
        deliver(gw, stripe_fake, body)  # validly signed, and still nonsense


def test_missing_fields_are_refused(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    created = gw.create_payment(new_request())
    session = stripe_fake.complete(created.reference)
    for broken in (
        {k: v for k, v in session.items() if k != "id"},
        {**session, "amount_total": "lots"},
        {**session, "currency": "dollars"},
        {**session, "amount_total": 1.5},
    ):
        with pytest.raises(VerificationError):
            deliver(gw, stripe_fake, stripe_fake.event("checkout.session.completed", broken))
    charge = stripe_fake.charge(created.reference, refunded=100)
    del charge["amount_refunded"]
    with pytest.raises(VerificationError):
        deliver(gw, stripe_fake, stripe_fake.event("charge.refunded", charge))


@pytest.mark.parametrize("fault", ["drop", "html", "garbage"])
def test_gateway_failures_are_typed(stripe_fake: FakeStripe, fault: str) -> None:
    gw = gateway(stripe_fake)
    stripe_fake.fault = fault
    with pytest.raises(GatewayError) as failed:
        gw.create_payment(new_request())
    assert failed.value.retryable
    assert_no_secret(str(failed.value), stripe_fake.secret_key)


def test_timeout_is_typed(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake, timeout="0.3")
    stripe_fake.fault, stripe_fake.slow_seconds = "slow", 1.0
    started = time.monotonic()
    with pytest.raises(GatewayError, match="could not be reached"):
        gw.fetch_payment("cs_test_000001")
    assert time.monotonic() - started < 5


def test_unreachable_and_refused_credentials(stripe_fake: FakeStripe) -> None:
    down = StripeCheckout(
        {
            "secret_key": "sk_test_x",
            "webhook_secret": "whsec_x",
            "api_base": f"http://127.0.0.1:{free_port()}",
        }
    )
    with pytest.raises(GatewayError):
        down.create_payment(new_request())
    wrong = gateway(stripe_fake, secret_key="sk_test_wrong_key_0000000000")
    with pytest.raises(GatewayError) as refused:
        wrong.create_payment(new_request())
    assert not refused.value.retryable
    assert_no_secret(str(refused.value), "sk_test_wrong_key_0000000000")
    with pytest.raises(GatewayError, match="resource_missing"):
        gateway(stripe_fake).fetch_payment("cs_test_nope")


def test_repr_and_settings_hold_no_secret(stripe_fake: FakeStripe) -> None:
    gw = gateway(stripe_fake)
    assert_no_secret(repr(gw), stripe_fake.secret_key, stripe_fake.webhook_secret)
    with pytest.raises(GatewayError, match="webhook_secret"):
        StripeCheckout({"secret_key": "sk_test_abc"})


def test_two_panels_on_one_account_never_share_a_session(stripe_fake: FakeStripe) -> None:
    from dataclasses import replace

    gw = gateway(stripe_fake)
    ours = new_request("5.00")
    theirs = replace(ours, return_url="https://other-panel.example/funds/return/x")
    assert gw.create_payment(ours).reference != gw.create_payment(theirs).reference
