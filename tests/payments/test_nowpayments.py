"""NOWPayments with httpx, against a fake NOWPayments that signs IPNs as documented."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from decimal import Decimal

import pytest

from opensmm.payments.gateways import (
    GatewayConfigError,
    GatewayError,
    PaymentState,
    VerificationError,
)
from opensmm.payments.gateways.nowpayments import (
    LIVE_API,
    SANDBOX_API,
    NowPayments,
    canonical_json,
    parse_body,
)
from tests.payments.fakes.nowpayments import FakeNowPayments
from tests.payments.fakes.server import free_port
from tests.payments.helpers import HOSTILE_BODIES, assert_no_secret, new_request


def gateway(fake: FakeNowPayments, **extra: str) -> NowPayments:
    return NowPayments(
        {
            "api_key": fake.api_key,
            "ipn_secret": fake.ipn_secret,
            "email": fake.email,
            "password": fake.password,
            "api_base": fake.url,
            "timeout": "2",
            **extra,
        }
    )


def invoice(gw: NowPayments, amount: str = "12.34", currency: str = "USD") -> tuple[str, str]:
    request = new_request(amount, currency)
    return gw.create_payment(request).reference, request.payment_id


def test_hosts() -> None:
    base = {"api_key": "k", "ipn_secret": "s"}
    assert NowPayments(base).api_base == LIVE_API == "https://api.nowpayments.io"
    assert NowPayments({**base, "sandbox": "1"}).api_base == SANDBOX_API
    assert SANDBOX_API == "https://api-sandbox.nowpayments.io"


def test_create_then_finished(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    request = new_request("12.34")
    created = gw.create_payment(request)
    assert created.redirect_url == f"https://nowpayments.io/payment/?iid={created.reference}"
    sent = next(r for r in reversed(np_fake.requests) if r.path == "/v1/invoice")
    assert b'"price_amount": 12.34,' in sent.body  # exact, never a float's digits
    body = json.loads(sent.body)
    assert body["order_id"] == request.payment_id
    assert body["ipn_callback_url"] == request.callback_url
    assert body["price_currency"] == "usd"

    payment = np_fake.pay(created.reference, "finished", pay_amount=0.00025, actually_paid=0.00025)
    event = gw.verify_callback(*np_fake.ipn(payment))
    assert event.state is PaymentState.PAID and not event.needs_review
    assert (event.amount, event.currency) == (Decimal("12.34"), "USD")
    assert event.reference == created.reference
    assert event.payment_id == request.payment_id
    assert event.other_references == (str(payment["payment_id"]),)


@pytest.mark.parametrize("status", ["waiting", "confirming", "confirmed", "sending"])
def test_on_the_way_is_pending(np_fake: FakeNowPayments, status: str) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw)
    event = gw.verify_callback(*np_fake.ipn(np_fake.pay(reference, status)))
    assert event.state is PaymentState.PENDING


def test_duplicate_delivery_is_the_same_event(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw)
    waiting = np_fake.pay(reference, "waiting")
    finished = np_fake.pay(reference, "finished", actually_paid=0.00025)
    body, headers = np_fake.ipn(finished)
    first, second = gw.verify_callback(body, headers), gw.verify_callback(body, headers)
    assert first.event_id == second.event_id
    # Another key order and spacing: the same signed parameters, the same event.
    reordered = json.dumps(dict(reversed(list(finished.items())))).encode()
    assert gw.verify_callback(reordered, headers).event_id == first.event_id
    assert gw.verify_callback(*np_fake.ipn(waiting)).event_id != first.event_id


def test_forged_and_tampered_are_refused(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw)
    payment = np_fake.pay(reference, "finished", actually_paid=0.00025)
    body, headers = np_fake.ipn(payment)
    with pytest.raises(VerificationError) as refused:
        gw.verify_callback(*np_fake.ipn(payment, secret="attacker-guess"))
    assert_no_secret(str(refused.value), np_fake.ipn_secret, np_fake.api_key)
    tampered = json.dumps({**payment, "actually_paid": 0.5, "price_amount": 1000}).encode()
    with pytest.raises(VerificationError):
        gw.verify_callback(tampered, headers)
    for bad in ({}, {"x-nowpayments-sig": ""}, {"x-nowpayments-sig": "00" * 64}):
        with pytest.raises(VerificationError):
            gw.verify_callback(body, bad)
    # The API key is not the IPN secret: a leaked API key cannot sign callbacks.
    with pytest.raises(VerificationError):
        gw.verify_callback(*np_fake.ipn(payment, secret=np_fake.api_key))


def test_wrong_amount_or_currency_is_reported_as_is(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw, "10.00")
    payment = np_fake.pay(
        reference, "finished", actually_paid=0.00025, price_amount=9.5, price_currency="eur"
    )
    event = gw.verify_callback(*np_fake.ipn(payment))
    assert (event.amount, event.currency) == (Decimal("9.5"), "EUR")


def test_underpaid_is_partially_paid_pro_rata_for_staff(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw, "12.34")
    payment = np_fake.pay(reference, "partially_paid", pay_amount=0.00025, actually_paid=0.0001)
    event = gw.verify_callback(*np_fake.ipn(payment))
    assert event.state is PaymentState.PARTIALLY_PAID and event.needs_review
    # 12.34 × 0.0001 / 0.00025 = 4.936, rounded down: never more than was paid.
    assert (event.amount, event.currency) == (Decimal("4.93"), "USD")
    assert event.note == "underpaid: 0.0001 of 0.00025 btc"


def test_finished_short_is_credited_pro_rata(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw, "100")
    payment = np_fake.pay(reference, "finished", pay_amount=0.002, actually_paid=0.00199)
    event = gw.verify_callback(*np_fake.ipn(payment))
    assert event.state is PaymentState.PAID and event.needs_review
    assert event.amount == Decimal("99.50")


def test_overpaid_credits_the_price_and_tells_staff(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw, "12.34")
    payment = np_fake.pay(reference, "finished", pay_amount=0.00025, actually_paid=0.0003)
    event = gw.verify_callback(*np_fake.ipn(payment))
    assert event.state is PaymentState.PAID and event.needs_review
    assert event.amount == Decimal("12.34")
    assert event.note == "overpaid: 0.0003 of 0.00025 btc"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("expired", PaymentState.EXPIRED),
        ("failed", PaymentState.FAILED),
        ("refunded", PaymentState.REFUNDED),
    ],
)
def test_final_statuses(np_fake: FakeNowPayments, status: str, state: PaymentState) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw)
    event = gw.verify_callback(*np_fake.ipn(np_fake.pay(reference, status)))
    assert event.state is state
    assert (event.amount is None) == (state is not PaymentState.REFUNDED)


def test_lost_ipn_recovered_by_polling(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, payment_id = invoice(gw, "20")
    nothing = gw.fetch_payment(reference)
    assert nothing.state is PaymentState.PENDING and nothing.amount is None
    np_fake.pay(reference, "expired", payment_id=111)  # a first coin, never paid
    np_fake.pay(reference, "finished", actually_paid=0.00025, payment_id=222)  # IPN lost
    status = gw.fetch_payment(reference)
    assert (status.state, status.amount, status.currency) == (
        PaymentState.PAID,
        Decimal("20"),
        "USD",
    )
    assert status.payment_id == payment_id
    assert set(status.other_references) == {"111", "222"}
    assert gw.complete_payment(reference).state is PaymentState.PAID
    # The JWT is reused between polls.
    auths = np_fake.count("POST", "/v1/auth")
    gw.fetch_payment(reference)
    assert np_fake.count("POST", "/v1/auth") == auths


def test_polling_needs_the_account_login(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake, email="", password="")
    reference, _ = invoice(gw)
    with pytest.raises(GatewayConfigError, match="email"):
        gw.fetch_payment(reference)
    wrong = gateway(np_fake, password="not-the-password-PPPP")
    with pytest.raises(GatewayError) as refused:
        wrong.fetch_payment(reference)
    assert_no_secret(str(refused.value) + repr(wrong), "not-the-password-PPPP")


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_are_refused(np_fake: FakeNowPayments, body: bytes) -> None:
    gw = gateway(np_fake)
    try:
        signed = np_fake.sign(json.loads(body))
    except (ValueError, RecursionError):
        signed = "ab" * 64
    with pytest.raises(VerificationError):
        gw.verify_callback(body, {"x-nowpayments-sig": signed})


def test_validly_signed_but_malformed_is_refused(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake)
    reference, _ = invoice(gw)
    payment = np_fake.pay(reference, "finished", actually_paid=0.00025)
    for broken in (
        {k: v for k, v in payment.items() if k != "payment_id"},
        {k: v for k, v in payment.items() if k != "price_amount"},
        {**payment, "payment_status": "teleported"},
        {**payment, "price_amount": "12,34"},
        {**payment, "price_currency": 5},
        {**payment, "actually_paid": -1},
        {**payment, "payment_id": {"$gt": 1}},
        {**payment, "payment_id": True},
    ):
        with pytest.raises(VerificationError):
            gw.verify_callback(*np_fake.ipn(broken))
    duplicated = b'{"payment_id": 1, "payment_id": 2}'
    with pytest.raises(VerificationError):
        gw.verify_callback(duplicated, {"x-nowpayments-sig": np_fake.sign({"payment_id": 2})})


@pytest.mark.parametrize("fault", ["drop", "html", "garbage", "huge"])
def test_gateway_failures_are_typed(np_fake: FakeNowPayments, fault: str) -> None:
    gw = gateway(np_fake)
    np_fake.fault = fault
    with pytest.raises(GatewayError) as failed:
        gw.create_payment(new_request())
    assert failed.value.retryable
    assert_no_secret(str(failed.value), np_fake.api_key)


def test_timeout_unreachable_and_wrong_key(np_fake: FakeNowPayments) -> None:
    gw = gateway(np_fake, timeout="0.3")
    np_fake.fault, np_fake.slow_seconds = "slow", 1.0
    started = time.monotonic()
    with pytest.raises(GatewayError, match="in time"):
        gw.create_payment(new_request())
    assert time.monotonic() - started < 5
    np_fake.fault = None
    down = NowPayments(
        {"api_key": "k", "ipn_secret": "s", "api_base": f"http://127.0.0.1:{free_port()}"}
    )
    with pytest.raises(GatewayError, match="could not be reached"):
        down.create_payment(new_request())
    wrong = gateway(np_fake, api_key="WRONGKEY-0000-1111-2222")
    with pytest.raises(GatewayError, match="INVALID_API_KEY") as refused:
        wrong.create_payment(new_request())
    assert not refused.value.retryable
    assert_no_secret(str(refused.value) + repr(wrong), "WRONGKEY-0000-1111-2222")


# --- the signed string, against JavaScript itself ----------------------------------------

NODE = shutil.which("node")


def _samples() -> list[object]:
    rng = random.Random(11)
    numbers: list[object] = [0, 1, -1, 10, 0.1, 1.5, 1e-7, 1.5e-7, 1e21, 1e20, 123456789.125]
    numbers += [1e-6, 0.000001234, 2**53, 2**53 + 2, 12.34, 0.00025, 100.0]
    for _ in range(300):
        numbers.append(rng.uniform(-1, 1) * 10 ** rng.randint(-12, 25))
        numbers.append(round(rng.uniform(0, 1000), rng.randint(0, 8)))
    texts = ["", "a/b", 'quote " back \\ slash', "caf\u00e9", "\u2028\u2029", "\x00\x1f\x7f", "✓"]
    nested = {"z": 1, "a": {"y": [3, {"b": 1, "a": 2}], "x": None}, "m": [True, False]}
    keys = {"10": 1, "9": 2, "010": 3, "a": 4, "B": 5, "\ud83d\ude00": 6, "\uff61": 7, "": 8}
    fee = {"fee": {"serviceFee": 0.5, "currency": "btc"}}
    return [*numbers, *texts, nested, keys, fee]


@pytest.mark.skipif(NODE is None, reason="needs node to compare with JSON.stringify")
def test_canonical_json_is_what_javascript_writes() -> None:
    samples = _samples()
    script = (
        "const sort = v => Array.isArray(v) ? v.map(sort) : (v && typeof v === 'object')"
        " ? Object.keys(v).sort().reduce((o, k) => (o[k] = sort(v[k]), o), {}) : v;"
        "const docs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(docs.map(d => JSON.stringify(sort(d)))));"
    )
    payload = json.dumps(samples, ensure_ascii=True)
    assert NODE is not None
    result = subprocess.run(
        [NODE, "-e", script], input=payload, capture_output=True, text=True, check=True
    )
    expected = json.loads(result.stdout)
    # Our side reads the same text exactly as the gateway reads a body (Decimal numbers).
    ours = [canonical_json(value) for value in parse_body(payload.encode())]
    mismatches = [(e, o) for e, o in zip(expected, ours, strict=True) if e != o]
    assert not mismatches, mismatches[:5]
