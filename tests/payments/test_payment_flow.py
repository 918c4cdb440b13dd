"""A customer's payment end to end against a running panel, through each gateway's fake:
credited once however callbacks arrive, nothing written for what does not verify or fit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest

from opensmm.db import Database, utcnow
from opensmm.payments import callbacks, polling, service
from opensmm.payments.models import Payment, PaymentReference
from opensmm.payments.service import PaymentRefused
from opensmm.payments.settle import lock
from tests.payments.fakes.nowpayments import FakeNowPayments
from tests.payments.fakes.paypal import FakePayPal
from tests.payments.fakes.stripe import FakeStripe
from tests.payments.flow import Payments
from tests.payments.helpers import HOSTILE_BODIES
from tests.support.databases import KINDS
from tests.support.panel import Panel, running_panel


@pytest.fixture(scope="module", params=KINDS)
def panel(request: pytest.FixtureRequest, database_servers: dict) -> Iterator[Panel]:
    # No worker in the server: the tests poll when they mean to (`opensmm worker --once`
    # or a polling pass in this process), never racing one in the background.
    with running_panel(database_servers, request.param, "--no-worker") as started:
        yield started


@pytest.fixture(scope="module")
def payments(panel: Panel, fake_stripe: FakeStripe, fake_paypal: FakePayPal,
             fake_nowpayments: FakeNowPayments) -> Payments:
    flow = Payments(panel)
    flow.method("card", "stripe", {
        "secret_key": fake_stripe.secret_key, "webhook_secret": fake_stripe.webhook_secret,
        "api_base": fake_stripe.url, "timeout": "5",
    }, fee_percent=Decimal("3"), bonus_percent=Decimal("5"), bonus_from=Decimal("50"))
    flow.method("paypal", "paypal", {
        "client_id": fake_paypal.client_id, "client_secret": fake_paypal.client_secret,
        "webhook_id": fake_paypal.webhook_id, "api_base": fake_paypal.url, "timeout": "5",
    })
    flow.method("crypto", "nowpayments", {
        "api_key": fake_nowpayments.api_key, "ipn_secret": fake_nowpayments.ipn_secret,
        "email": fake_nowpayments.email, "password": fake_nowpayments.password,
        "api_base": fake_nowpayments.url, "timeout": "5",
    })
    flow.method("bank", "manual", {}, max_amount=Decimal("1000"))
    return flow


def _paid(fake: FakeStripe, payment: Payment, **extra: object) -> bytes:
    assert payment.reference
    return fake.event("checkout.session.completed", fake.complete(payment.reference, **extra))


def _stripe(payments: Payments, fake: FakeStripe, body: bytes):  # type: ignore[no-untyped-def]
    return payments.deliver("card", body, {"Stripe-Signature": fake.sign(body)})


# --- Stripe: paid, fee and bonus, duplicates, order, forgeries -----------------------------


def test_a_stripe_payment_credits_the_amount_less_fee_plus_bonus(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "100.00")
    assert payment.state == "pending" and payment.reference.startswith("cs_test_")
    assert payment.redirect_url and fake_stripe.sessions[payment.reference]["amount_total"] == 10000
    answer = _stripe(payments, fake_stripe, _paid(fake_stripe, payment))
    assert answer.status_code == 200, answer.text
    # 100 paid, 3% fee, 5% bonus (deposits from 50): 100 - 3 + 5
    assert panel.balance(customer) == Decimal("102")
    after = payments.payment(payment.id)
    assert after.state == "paid" and after.credited == Decimal("102")
    assert payments.entries(payment.id) == {
        f"payment:{payment.id}:credit": Decimal("100"),
        f"payment:{payment.id}:fee": Decimal("-3"),
        f"payment:{payment.id}:bonus": Decimal("5"),
    }
    payments.assert_ledger_clean()


def test_the_same_callback_ten_times_in_parallel_credits_once(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "20.00")
    body = _paid(fake_stripe, payment)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: _stripe(payments, fake_stripe, body), range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert sorted(a.json()["ok"] for a in answers).count("ok") == 1
    assert panel.balance(customer) == Decimal("19.40")  # 20 - 3%, no bonus under 50
    assert payments.events(payment.id) == 1
    payments.assert_ledger_clean()


def test_completed_and_async_succeeded_for_one_payment_credit_once(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    session = fake_stripe.complete(payment.reference)
    for kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        assert _stripe(payments, fake_stripe, fake_stripe.event(kind, session)).status_code == 200
    assert panel.balance(customer) == Decimal("9.70")
    assert payments.events(payment.id) == 2


def test_a_refund_before_the_payment_ends_refunded_with_nothing_left(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "60.00")
    paid = _paid(fake_stripe, payment)
    refund = fake_stripe.event("charge.refunded", fake_stripe.charge(payment.reference,
                                                                     refunded=6000))
    assert _stripe(payments, fake_stripe, refund).status_code == 200
    assert payments.payment(payment.id).state == "refunded"
    assert panel.balance(customer) == 0
    assert _stripe(payments, fake_stripe, paid).status_code == 200
    after = payments.payment(payment.id)
    assert after.state == "refunded" and after.credited == 0 and after.shortfall == 0
    assert panel.balance(customer) == 0
    payments.assert_ledger_clean()


def test_a_partial_refund_takes_back_its_share(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "100.00")
    _stripe(payments, fake_stripe, _paid(fake_stripe, payment))
    for refunded in (2500, 2500, 5000):  # a replay of the first total, then the rest
        body = fake_stripe.event("charge.refunded", fake_stripe.charge(payment.reference,
                                                                       refunded=refunded))
        assert _stripe(payments, fake_stripe, body).status_code == 200
        if refunded == 2500:
            # a quarter of what was credited (102) is taken back, once
            assert panel.balance(customer) == Decimal("76.50")
    assert panel.balance(customer) == Decimal("51")
    assert payments.payment(payment.id).state == "refunded"
    payments.assert_ledger_clean()


def test_a_dispute_after_the_money_was_spent_flags_the_account(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    _stripe(payments, fake_stripe, _paid(fake_stripe, payment))
    with panel.write() as session:  # the customer spends most of it on an order
        from opensmm.ledger.service import add_funds
        add_funds(session, customer.id, Decimal("-9"), memo="spent", actor="test")
    body = fake_stripe.event("charge.dispute.created", fake_stripe.dispute(payment.reference))
    assert _stripe(payments, fake_stripe, body).status_code == 200
    after = payments.payment(payment.id)
    assert after.state == "disputed" and after.needs_review
    assert panel.balance(customer) == 0
    assert after.reversed == Decimal("0.70") and after.shortfall == Decimal("9")
    payments.assert_ledger_clean()


def test_forged_and_hostile_callbacks_write_nothing(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    body = _paid(fake_stripe, payment)
    before = payments.events()
    forged = payments.deliver("card", body, {
        "Stripe-Signature": fake_stripe.sign(body, secret="whsec_guess")})
    assert forged.status_code == 400
    for hostile in HOSTILE_BODIES:
        answer = payments.deliver("card", hostile, {"Stripe-Signature": fake_stripe.sign(hostile)})
        assert 400 <= answer.status_code < 500, (hostile, answer.text)
    assert payments.deliver("nope", body, {}).status_code == 404
    assert payments.deliver("bank", body, {}).status_code == 404
    assert payments.deliver("card", b"x" * 300_000, {}).status_code == 413
    assert payments.events() == before
    assert panel.balance(customer) == 0


def test_a_wrong_amount_or_currency_is_refused_and_writes_nothing(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    cheap = _paid(fake_stripe, payment, amount_total=100)
    assert _stripe(payments, fake_stripe, cheap).status_code == 400
    session = dict(fake_stripe.sessions[payment.reference], amount_total=1000, currency="eur")
    assert _stripe(payments, fake_stripe,
                   fake_stripe.event("checkout.session.completed", session)).status_code == 400
    assert payments.events(payment.id) == 0
    assert payments.payment(payment.id).state == "pending" and panel.balance(customer) == 0


def test_a_session_the_panel_never_made_is_unknown(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    session = dict(fake_stripe.complete(payment.reference), id="cs_test_other",
                   client_reference_id="not-ours", metadata={}, payment_intent="pi_other")
    answer = _stripe(payments, fake_stripe, fake_stripe.event("checkout.session.completed",
                                                              session))
    assert answer.status_code == 404
    assert panel.balance(customer) == 0


def test_an_expired_session_expires_the_payment(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    body = fake_stripe.event("checkout.session.expired", fake_stripe.expire(payment.reference))
    assert _stripe(payments, fake_stripe, body).status_code == 200
    assert payments.payment(payment.id).state == "expired"
    assert panel.balance(customer) == 0


# --- lost callbacks and crashes ---------------------------------------------------------------


def _poll_now(payments: Payments, payment_id: int) -> None:
    """Make the payment due and run one polling pass, as the worker does."""
    with payments.panel.write() as session:
        lock(session, payment_id).next_poll_at = utcnow() - timedelta(seconds=1)
    polling.poll_due(payments.panel.db, payments.secret)


def test_a_lost_webhook_is_recovered_by_polling(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    _poll_now(payments, payment.id)
    assert payments.payment(payment.id).state == "pending"
    fake_stripe.complete(payment.reference)  # paid, but the webhook never arrives
    _poll_now(payments, payment.id)
    assert payments.payment(payment.id).state == "paid"
    assert panel.balance(customer) == Decimal("9.70")
    _poll_now(payments, payment.id)  # nothing more
    assert panel.balance(customer) == Decimal("9.70")
    payments.assert_ledger_clean()


def test_the_worker_process_polls_payments_whose_webhook_was_lost(
    payments: Payments, panel: Panel, fake_paypal: FakePayPal
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "paypal", "12.00")
    fake_paypal.approve(payment.reference)
    with panel.write() as session:
        lock(session, payment.id).next_poll_at = utcnow() - timedelta(seconds=1)
    done = panel.cli("worker", "--once", "--json")
    assert json.loads(done.stdout)["payments_polled"] == 1
    assert payments.payment(payment.id).state == "paid"
    assert panel.balance(customer) == Decimal("12")


def test_a_crash_after_the_gateway_answered_loses_no_money(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    session_id = payment.reference
    with panel.write() as session:  # as if our commit of the gateway's answer never happened
        session.query(PaymentReference).filter_by(payment_id=payment.id).delete()
        lock(session, payment.id).reference = None
    body = fake_stripe.event("checkout.session.completed", fake_stripe.complete(session_id))
    assert _stripe(payments, fake_stripe, body).status_code == 200  # found by our token
    assert payments.payment(payment.id).state == "paid"
    assert panel.balance(customer) == Decimal("9.70")


class _DiesBeforeCommit(Database):
    """A process that dies after doing the work and before committing it."""

    @contextmanager
    def write(self):  # type: ignore[no-untyped-def, override]
        with super().write() as session:
            yield session
            if any(isinstance(obj, Payment) for obj in session.dirty):
                session.rollback()
                raise SystemExit("killed")


def test_a_crash_before_the_callback_commits_credits_once_on_redelivery(
    payments: Payments, panel: Panel, fake_stripe: FakeStripe
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "card", "10.00")
    body = _paid(fake_stripe, payment)
    headers = {"stripe-signature": fake_stripe.sign(body)}
    dying = _DiesBeforeCommit(panel.database_url)
    try:
        with pytest.raises(SystemExit):
            callbacks.handle(dying, payments.secret, "card", body, headers)
    finally:
        dying.dispose()
    assert payments.events(payment.id) == 0 and panel.balance(customer) == 0
    assert _stripe(payments, fake_stripe, body).status_code == 200  # Stripe delivers again
    assert panel.balance(customer) == Decimal("9.70")
    payments.assert_ledger_clean()


# --- PayPal: captured on the webhook, or by polling ------------------------------------------


def _paypal(payments: Payments, delivered: tuple[bytes, dict[str, str]]):  # type: ignore[no-untyped-def]
    body, headers = delivered
    return payments.deliver("paypal", body, headers)


def test_paypal_approved_is_captured_and_credited(
    payments: Payments, panel: Panel, fake_paypal: FakePayPal
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "paypal", "25.00")
    assert payment.redirect_url and payment.reference in fake_paypal.orders
    approved = fake_paypal.approve(payment.reference)
    answer = _paypal(payments, fake_paypal.deliver("CHECKOUT.ORDER.APPROVED", approved))
    assert answer.status_code == 200, answer.text
    assert payments.payment(payment.id).state == "paid"
    assert panel.balance(customer) == Decimal("25")
    # PayPal's own capture webhook follows: nothing more is credited.
    order = fake_paypal.orders[payment.reference]
    capture = order["purchase_units"][0]["payments"]["captures"][0]
    assert _paypal(payments, fake_paypal.deliver("PAYMENT.CAPTURE.COMPLETED",
                                                 capture)).status_code == 200
    assert panel.balance(customer) == Decimal("25")
    refund = fake_paypal.refund(payment.reference, "10.00")
    assert _paypal(payments, fake_paypal.deliver("PAYMENT.CAPTURE.REFUNDED",
                                                 refund)).status_code == 200
    assert panel.balance(customer) == Decimal("15")
    assert payments.payment(payment.id).state == "refunded"
    payments.assert_ledger_clean()


def test_paypal_approved_without_a_webhook_is_captured_by_polling(
    payments: Payments, panel: Panel, fake_paypal: FakePayPal
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "paypal", "7.50")
    fake_paypal.approve(payment.reference)
    _poll_now(payments, payment.id)
    assert payments.payment(payment.id).state == "paid"
    assert panel.balance(customer) == Decimal("7.50")


def test_a_paypal_webhook_signed_for_another_webhook_is_refused(
    payments: Payments, panel: Panel, fake_paypal: FakePayPal
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "paypal", "5.00")
    approved = fake_paypal.approve(payment.reference)
    delivered = fake_paypal.deliver("CHECKOUT.ORDER.APPROVED", approved, webhook_id="OTHER")
    assert _paypal(payments, delivered).status_code == 400
    assert payments.events(payment.id) == 0


# --- NOWPayments: partial, over- and underpayment, expiry -----------------------------------


def _ipn(payments: Payments, fake: FakeNowPayments, paid: dict) -> int:  # type: ignore[type-arg]
    body, headers = fake.ipn(paid)
    return payments.deliver("crypto", body, headers).status_code


def test_crypto_partial_then_finished_credits_what_arrived_then_the_rest(
    payments: Payments, panel: Panel, fake_nowpayments: FakeNowPayments
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "crypto", "40.00")
    invoice = payment.reference
    waiting = fake_nowpayments.pay(invoice, "waiting", pay_amount=0.001)
    assert _ipn(payments, fake_nowpayments, waiting) == 200
    assert payments.payment(payment.id).state == "pending"
    half = fake_nowpayments.pay(invoice, "partially_paid", pay_amount=0.001, actually_paid=0.0005)
    assert _ipn(payments, fake_nowpayments, half) == 200
    after = payments.payment(payment.id)
    assert after.state == "partially_paid" and after.needs_review
    assert panel.balance(customer) == Decimal("20")
    assert _ipn(payments, fake_nowpayments, half) == 200  # redelivered
    done = fake_nowpayments.pay(invoice, "finished", pay_amount=0.001, actually_paid=0.001)
    assert _ipn(payments, fake_nowpayments, done) == 200
    assert payments.payment(payment.id).state == "paid"
    assert panel.balance(customer) == Decimal("40")
    assert set(payments.entries(payment.id)) == {
        f"payment:{payment.id}:credit", f"payment:{payment.id}:credit:40.00000"}
    payments.assert_ledger_clean()


def test_crypto_overpayment_credits_the_price_and_flags_it(
    payments: Payments, panel: Panel, fake_nowpayments: FakeNowPayments
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "crypto", "10.00")
    over = fake_nowpayments.pay(payment.reference, "finished", pay_amount=0.001,
                                actually_paid=0.0015)
    assert _ipn(payments, fake_nowpayments, over) == 200
    after = payments.payment(payment.id)
    assert after.state == "paid" and after.needs_review
    assert panel.balance(customer) == Decimal("10")


def test_crypto_expired_and_forged(
    payments: Payments, panel: Panel, fake_nowpayments: FakeNowPayments
) -> None:
    customer = panel.customer()
    payment = payments.start(customer, "crypto", "10.00")
    paid = fake_nowpayments.pay(payment.reference, "finished", pay_amount=0.001,
                                actually_paid=0.001)
    body, headers = fake_nowpayments.ipn(paid, secret="attacker")
    assert payments.deliver("crypto", body, headers).status_code == 400
    tampered = json.dumps({**paid, "price_amount": 1000}).encode()
    _, good = fake_nowpayments.ipn(paid)
    assert payments.deliver("crypto", tampered, good).status_code == 400
    expired = fake_nowpayments.pay(payment.reference, "expired", pay_amount=0.001)
    assert _ipn(payments, fake_nowpayments, expired) == 200
    assert payments.payment(payment.id).state == "expired" and panel.balance(customer) == 0


# --- manual payments ------------------------------------------------------------------------


def test_manual_payment_waits_for_staff_then_credits_once(
    payments: Payments, panel: Panel
) -> None:
    from opensmm.audit.actor import Actor

    customer = panel.customer()
    payment = payments.start(customer, "bank", "50", customer_reference="TRX-2026-001")
    assert payment.state == "pending" and payment.reference == "TRX-2026-001"
    assert panel.balance(customer) == 0
    with panel.write() as session:
        service.approve(session, Actor.cli(), payment.id)
    assert panel.balance(customer) == Decimal("50")
    with pytest.raises(PaymentRefused), panel.write() as session:
        service.approve(session, Actor.cli(), payment.id)
    assert panel.balance(customer) == Decimal("50")
    other = payments.start(customer, "bank", "20", customer_reference="TRX-2026-002")
    with panel.write() as session:
        service.reject(session, Actor.cli(), other.id, "No such transfer in our account")
    assert payments.payment(other.id).state == "failed"
    assert payments.payment(other.id).note == "No such transfer in our account"
    payments.assert_ledger_clean()


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1e9", "10.001", "NaN", "2000", ""])
def test_bad_amounts_are_refused_before_anything_is_written(
    payments: Payments, panel: Panel, amount: str
) -> None:
    customer = panel.customer()
    before = payments.events()
    with pytest.raises(PaymentRefused):
        payments.start(customer, "bank", amount, customer_reference="REF-123")
    with panel.db.read() as session:
        assert session.query(Payment).filter_by(user_id=customer.id).count() == 0
    assert payments.events() == before


@pytest.mark.parametrize("reference", [None, "", "ab", "x" * 101, "bad\x00ref", "\u202e evil"])
def test_bad_manual_references_are_refused(
    payments: Payments, panel: Panel, reference: str | None
) -> None:
    customer = panel.customer()
    with pytest.raises(PaymentRefused):
        payments.start(customer, "bank", "10", customer_reference=reference)


def test_disabled_and_unknown_methods_take_no_new_payments(
    payments: Payments, panel: Panel
) -> None:
    from opensmm.audit.actor import Actor
    from opensmm.errors import NotFound
    from opensmm.payments import methods

    customer = panel.customer()
    with pytest.raises(NotFound):
        payments.start(customer, "nope", "10")
    payments.method("closed", "manual", {})
    with panel.write() as session:
        methods.set_enabled(session, Actor.cli(), methods.find_method(session, "closed"), False)
    with pytest.raises(NotFound):
        payments.start(customer, "closed", "10", customer_reference="REF-1234")

