"""PayPal Orders v2 with httpx, against a fake PayPal that signs webhooks as PayPal does."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from opensmm.payments.gateways import GatewayError, PaymentState, VerificationError
from opensmm.payments.gateways.paypal import LIVE_API, SANDBOX_API, PayPalCheckout
from tests.payments.fakes.paypal import FakePayPal
from tests.payments.fakes.server import free_port
from tests.payments.helpers import HOSTILE_BODIES, assert_no_secret, new_request


def gateway(fake: FakePayPal, **extra: str) -> PayPalCheckout:
    return PayPalCheckout(
        {
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "webhook_id": fake.webhook_id,
            "api_base": fake.url,
            "timeout": "2",
            **extra,
        }
    )


def test_hosts() -> None:
    base = {"client_id": "a", "client_secret": "b", "webhook_id": "c"}
    assert PayPalCheckout(base).api_base == LIVE_API == "https://api-m.paypal.com"
    assert PayPalCheckout({**base, "sandbox": "1"}).api_base == SANDBOX_API
    assert SANDBOX_API == "https://api-m.sandbox.paypal.com"


def test_create_approve_webhook_capture_paid(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    request = new_request("25.50")
    created = gw.create_payment(request)
    assert created.redirect_url == (
        f"https://www.sandbox.paypal.com/checkoutnow?token={created.reference}"
    )
    unit = paypal_fake.orders[created.reference]["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "USD", "value": "25.50"}
    assert unit["custom_id"] == request.payment_id
    assert unit["invoice_id"] == f"opensmm-{request.payment_id}"
    assert gw.fetch_payment(created.reference).state is PaymentState.PENDING

    # The payer approves; PayPal says so; the panel captures.
    body, headers = paypal_fake.deliver(
        "CHECKOUT.ORDER.APPROVED", paypal_fake.approve(created.reference)
    )
    approved = gw.verify_callback(body, headers)
    assert approved.state is PaymentState.PENDING and approved.needs_completion
    assert approved.reference == created.reference
    assert approved.payment_id == request.payment_id

    captured = gw.complete_payment(created.reference)
    assert captured.state is PaymentState.PAID
    assert (captured.amount, captured.currency) == (Decimal("25.50"), "USD")
    assert captured.payment_id == request.payment_id
    capture = paypal_fake.orders[created.reference]["purchase_units"][0]["payments"]["captures"][0]
    assert captured.other_references == (capture["id"],)

    # The return page captures too (it raced the webhook): the same capture, no error.
    assert gw.complete_payment(created.reference).state is PaymentState.PAID
    assert paypal_fake.count("POST", f"/v2/checkout/orders/{created.reference}/capture") == 1

    body, headers = paypal_fake.deliver("PAYMENT.CAPTURE.COMPLETED", capture)
    paid = gw.verify_callback(body, headers)
    assert paid.state is PaymentState.PAID and paid.reference == created.reference
    assert (paid.amount, paid.currency, paid.payment_id) == (
        Decimal("25.50"),
        "USD",
        request.payment_id,
    )


def test_capture_request_is_idempotent(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request("3.00"))
    paypal_fake.approve(created.reference)
    assert gw.complete_payment(created.reference).state is PaymentState.PAID
    request_ids = [
        r.headers.get("paypal-request-id")
        for r in paypal_fake.requests
        if r.path.endswith(f"{created.reference}/capture")
    ]
    assert request_ids == [f"opensmm-capture-{created.reference}"]


def test_capture_before_approval_stays_pending(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request())
    status = gw.complete_payment(created.reference)
    assert status.state is PaymentState.PENDING and not status.needs_completion


def test_zero_decimal_currency(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request("1500", "JPY"))
    unit = paypal_fake.orders[created.reference]["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "JPY", "value": "1500"}
    with pytest.raises(GatewayError):
        gw.create_payment(new_request("1500.50", "JPY"))


def test_duplicate_delivery_is_the_same_event(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request())
    paypal_fake.approve(created.reference)
    capture = paypal_fake.settle(created.reference)
    body, headers = paypal_fake.deliver("PAYMENT.CAPTURE.COMPLETED", capture)
    first = gw.verify_callback(body, headers)
    # PayPal retries with the same event and new transmission headers.
    again_body, again_headers = paypal_fake.sign(body)
    second = gw.verify_callback(again_body, again_headers)
    assert first.event_id == second.event_id and first.event_id.startswith("WH-")
    assert (first.state, first.amount) == (second.state, second.amount)


def test_forged_and_tampered_webhooks_are_refused(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request("10.00"))
    paypal_fake.approve(created.reference)
    capture = paypal_fake.settle(created.reference)
    body, headers = paypal_fake.deliver("PAYMENT.CAPTURE.COMPLETED", capture)

    tampered = body.replace(b'"10.00"', b'"1000.00"')
    assert tampered != body
    with pytest.raises(VerificationError):
        gw.verify_callback(tampered, headers)
    forged = {**headers, "PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk" * 40}
    with pytest.raises(VerificationError):
        gw.verify_callback(body, forged)
    # Signed for another webhook id (another merchant's endpoint).
    other_body, other_headers = paypal_fake.deliver(
        "PAYMENT.CAPTURE.COMPLETED", capture, webhook_id="SOMEONEELSE"
    )
    with pytest.raises(VerificationError):
        gw.verify_callback(other_body, other_headers)
    for missing in ("PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-SIG", "PAYPAL-CERT-URL"):
        with pytest.raises(VerificationError, match="missing"):
            gw.verify_callback(body, {k: v for k, v in headers.items() if k != missing})


def test_the_event_reaches_paypal_byte_for_byte(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request())
    capture = paypal_fake.settle(created.reference)
    # Odd but valid JSON formatting and escapes: re-encoding would change the CRC.
    event = {
        "id": "WH-ODD-1",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": "caf\u00e9 \u2713 / done",
        "resource": capture,
    }
    body = json.dumps(event, ensure_ascii=True, separators=(" ,", " : ")).encode()
    body, headers = paypal_fake.sign(body)
    assert gw.verify_callback(body, headers).state is PaymentState.PAID


def test_wrong_amount_or_currency_is_reported_as_is(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request("10.00"))
    paypal_fake.approve(created.reference)
    capture = paypal_fake.settle(
        created.reference, amount={"currency_code": "EUR", "value": "9.00"}
    )
    event = gw.verify_callback(*paypal_fake.deliver("PAYMENT.CAPTURE.COMPLETED", capture))
    assert (event.amount, event.currency) == (Decimal("9.00"), "EUR")
    polled = gw.fetch_payment(created.reference)
    assert (polled.amount, polled.currency) == (Decimal("9.00"), "EUR")


def test_denied_pending_refunded_disputed(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    request = new_request("40.00")
    created = gw.create_payment(request)
    paypal_fake.approve(created.reference)
    pending = paypal_fake.settle(created.reference, status="PENDING")
    event = gw.verify_callback(*paypal_fake.deliver("PAYMENT.CAPTURE.PENDING", pending))
    assert event.state is PaymentState.PENDING
    denied = {**pending, "status": "DECLINED"}
    event = gw.verify_callback(*paypal_fake.deliver("PAYMENT.CAPTURE.DENIED", denied))
    assert event.state is PaymentState.FAILED

    paid = gw.create_payment(new_request("40.00"))
    paypal_fake.approve(paid.reference)
    capture = paypal_fake.settle(paid.reference)
    refund = gw.verify_callback(
        *paypal_fake.deliver(
            "PAYMENT.CAPTURE.REFUNDED", paypal_fake.refund(paid.reference, "15.00")
        )
    )
    assert (refund.state, refund.amount, refund.currency) == (
        PaymentState.REFUNDED,
        Decimal("15.00"),
        "USD",
    )
    assert capture["id"] in refund.other_references and refund.payment_id is not None
    # A second partial refund: the event carries the total refunded so far.
    second = gw.verify_callback(
        *paypal_fake.deliver("PAYMENT.CAPTURE.REFUNDED", paypal_fake.refund(paid.reference, "5.00"))
    )
    assert (second.amount, second.needs_review) == (Decimal("20.00"), False)
    # Without the breakdown, this refund's amount, marked for staff.
    bare = paypal_fake.refund(paid.reference, "1.00")
    del bare["seller_payable_breakdown"]
    third = gw.verify_callback(*paypal_fake.deliver("PAYMENT.CAPTURE.REFUNDED", bare))
    assert (third.amount, third.needs_review) == (Decimal("1.00"), True)
    dispute = gw.verify_callback(
        *paypal_fake.deliver("CUSTOMER.DISPUTE.CREATED", paypal_fake.dispute(paid.reference))
    )
    assert (dispute.state, dispute.amount) == (PaymentState.DISPUTED, Decimal("40.00"))
    assert dispute.other_references == (capture["id"],)
    assert dispute.payment_id == refund.payment_id


def test_lost_webhook_recovered_by_polling(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    request = new_request("12.00")
    created = gw.create_payment(request)
    paypal_fake.approve(created.reference)  # the APPROVED webhook is lost
    polled = gw.fetch_payment(created.reference)
    assert polled.state is PaymentState.PENDING and polled.needs_completion
    done = gw.complete_payment(created.reference)
    assert (done.state, done.amount) == (PaymentState.PAID, Decimal("12.00"))


def test_an_order_paypal_forgot_is_expired(paypal_fake: FakePayPal) -> None:
    status = gateway(paypal_fake).fetch_payment("5O000000000000")
    assert status.state is PaymentState.EXPIRED


def test_unknown_event_type_is_refused(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    with pytest.raises(VerificationError, match="not handled"):
        gw.verify_callback(*paypal_fake.deliver("BILLING.PLAN.CREATED", {"id": "P-1"}))


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_are_refused(paypal_fake: FakePayPal, body: bytes) -> None:
    gw = gateway(paypal_fake)
    with pytest.raises(VerificationError):
        gw.verify_callback(*paypal_fake.sign(body))


def test_validly_signed_events_missing_fields_are_refused(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request())
    capture = paypal_fake.settle(created.reference)
    for broken in (
        {k: v for k, v in capture.items() if k != "amount"},
        {**capture, "amount": {"currency_code": "USD", "value": 10.0}},
        {**capture, "amount": {"currency_code": "USD", "value": "1e400"}},
        {**capture, "amount": "ten"},
        {**capture, "id": None},
    ):
        with pytest.raises(VerificationError):
            gw.verify_callback(*paypal_fake.deliver("PAYMENT.CAPTURE.COMPLETED", broken))


@pytest.mark.parametrize("fault", ["drop", "html", "garbage", "huge"])
def test_gateway_failures_are_typed(paypal_fake: FakePayPal, fault: str) -> None:
    gw = gateway(paypal_fake)
    paypal_fake.fault = fault
    with pytest.raises(GatewayError) as failed:
        gw.create_payment(new_request())
    assert failed.value.retryable
    assert_no_secret(str(failed.value), paypal_fake.client_secret)


def test_verification_that_cannot_reach_paypal_is_a_gateway_error(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request())
    body, headers = paypal_fake.deliver(
        "PAYMENT.CAPTURE.COMPLETED", paypal_fake.settle(created.reference)
    )
    paypal_fake.fault = "drop"
    # Not a refusal: PayPal will deliver again; the route answers 5xx.
    with pytest.raises(GatewayError):
        gw.verify_callback(body, headers)


def test_timeout_is_typed(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake, timeout="0.3")
    paypal_fake.fault, paypal_fake.slow_seconds = "slow", 1.0
    started = time.monotonic()
    with pytest.raises(GatewayError, match="in time"):
        gw.fetch_payment("5O000000000001")
    assert time.monotonic() - started < 5


def test_unreachable_and_refused_credentials(paypal_fake: FakePayPal) -> None:
    down = PayPalCheckout(
        {
            "client_id": "a",
            "client_secret": "b",
            "webhook_id": "c",
            "api_base": f"http://127.0.0.1:{free_port()}",
        }
    )
    with pytest.raises(GatewayError, match="could not be reached"):
        down.create_payment(new_request())
    wrong = gateway(paypal_fake, client_secret="wrong-secret-QQQQ99998888")
    with pytest.raises(GatewayError) as refused:
        wrong.create_payment(new_request())
    assert not refused.value.retryable and "invalid_client" in str(refused.value)
    assert_no_secret(str(refused.value) + repr(wrong), "wrong-secret-QQQQ99998888")


def test_an_expired_token_is_renewed_once(paypal_fake: FakePayPal) -> None:
    gw = gateway(paypal_fake)
    created = gw.create_payment(new_request())
    paypal_fake.tokens.clear()  # PayPal forgot every token
    assert gw.fetch_payment(created.reference).state is PaymentState.PENDING
