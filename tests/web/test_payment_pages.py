"""The payment pages against a running panel, on SQLite and PostgreSQL: adding funds (with
the live figures), a payment's own page, its proof, the return from a gateway; the staff
pages for payments and payment methods. Hostile input gets a clear message and a 4xx,
never a 500, and changes nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opensmm.accounts.models import User
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.payments import methods as payment_methods
from opensmm.payments.keys import panel_secret
from opensmm.payments.models import Payment, PaymentMethod
from tests.payments.fakes.paypal import FakePayPal
from tests.payments.fakes.stripe import FakeStripe
from tests.support.panel import Panel
from tests.web.support import Person, WebClient, csrf_of, make_person

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%fake receipt\n"


@pytest.fixture(scope="module")
def stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe(serve_checkout=True)
    fake.start()
    yield fake
    fake.stop()


def add_method(panel: Panel, gateway: str, *, name: str = "", title: str = "",
               settings: dict[str, str] | None = None, **limits: Any) -> str:
    name = name or f"{gateway[:6]}-{uuid.uuid4().hex[:6]}"
    with panel.write() as session:
        payment_methods.add_method(
            session, Actor.cli(), name=name, gateway=gateway, panel_secret=panel_secret(panel.db),
            title=title, settings=settings or {},
            limits=payment_methods.Limits(**{k: Decimal(v) for k, v in limits.items()}),
            instructions={"en": "Send it to IBAN XX00 1234",
                          "ar": "حوّل المبلغ إلى الحساب XX00 1234"},
        )
    return name


def stripe_method(panel: Panel, fake: FakeStripe, **limits: Any) -> str:
    return add_method(panel, "stripe", title="Card", settings={
        "secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret,
        "api_base": fake.url, "timeout": "5"}, **limits)


def logged_in(panel: Panel, *, staff: bool = False, balance: str = "0") -> tuple[WebClient, Person]:
    person = make_person(panel, staff=staff, balance=balance)
    client = WebClient(panel.url)
    client.login(person)
    return client, person


def pay(client: WebClient, method: str, amount: str, *, reference: str | None = None,
        proof: bytes | None = None, csrf: str | None = None) -> httpx.Response:
    fields = {"method": method, "amount": amount, "csrf": csrf or client.token()}
    if reference is not None:
        fields["reference"] = reference
    files = {"proof": ("receipt.png", proof, "image/png")} if proof is not None else None
    if files is None:  # a browser sends the form as multipart when it has a file field
        files = {"proof": ("", b"", "application/octet-stream")}
    return client.http.post("/funds/add", data=fields, files=files)


def balance(panel: Panel, user_id: int) -> Decimal:
    with panel.db.read() as session:
        value = session.scalar(select(User.balance).where(User.id == user_id))
        assert value is not None
        return value


def payments_of(panel: Panel, user_id: int) -> list[Payment]:
    with panel.db.read() as session:
        return list(session.scalars(select(Payment).where(Payment.user_id == user_id)
                                    .order_by(Payment.id)))


def token_of(response: httpx.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:300])
    match = re.fullmatch(r"/funds/payments/([\w-]+)", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


# --- the Funds page and the live figures -----------------------------------------------------
def test_funds_lists_enabled_methods_with_their_terms_and_words(panel: Panel) -> None:
    shown = add_method(panel, "manual", title="Bank transfer", fee_percent="2",
                       bonus_percent="5", min_amount="10", max_amount="500")
    hidden = add_method(panel, "manual", title="Hidden way")
    with panel.write() as session:
        method = payment_methods.find_method(session, hidden)
        payment_methods.set_enabled(session, Actor.cli(), method, False)
    client, _ = logged_in(panel)
    page = client.get("/funds")
    assert page.status_code == 200
    assert f'id="pay-{shown}"' in page.text and "Bank transfer" in page.text
    assert "Send it to IBAN XX00 1234" in page.text
    assert f'id="pay-{hidden}"' not in page.text
    assert "contact the panel staff: every payment" not in page.text
    assert client.get("/lang/ar?next=/funds").status_code == 303
    arabic = client.get("/funds").text
    assert 'dir="rtl"' in arabic and "حوّل المبلغ إلى الحساب" in arabic
    assert "Send it to IBAN" not in arabic
    client.close()


def test_the_live_figures_come_from_the_server(panel: Panel) -> None:
    method = add_method(panel, "manual", fee_percent="2.5", bonus_percent="10",
                        bonus_from="100", min_amount="5", max_amount="1000")
    client, _ = logged_in(panel)
    answer = client.get("/funds/preview", params={"method": method, "amount": "200"}).json()
    assert answer == {"error": "", "paid": "$200.00", "fee": "$5.00", "bonus": "$20.00",
                      "coupon": "$0.00", "credit": "$215.00"}
    small = client.get("/funds/preview", params={"method": method, "amount": "50"}).json()
    assert small["bonus"] == "$0.00" and small["credit"] == "$48.75"
    for amount, message in [("", "Enter an amount"), ("abc", "Enter an amount"),
                            ("1e400", "Enter an amount"), ("-5", "minimum deposit"),
                            ("4", "minimum deposit"), ("1001", "maximum deposit"),
                            ("10.001", "at most 2 decimals"), ("NaN", "Enter an amount")]:
        refused = client.get("/funds/preview", params={"method": method, "amount": amount})
        assert refused.status_code == 200
        assert message in refused.json()["error"], (amount, refused.json())
    forged = client.get("/funds/preview", params={"method": "no-such<script>", "amount": "10"})
    assert "No payment method named" in forged.json()["error"]
    client.close()


# --- manual payments ------------------------------------------------------------------------
def test_a_manual_payment_with_a_proof_is_approved_by_staff(panel: Panel) -> None:
    method = add_method(panel, "manual", title="Bank", fee_percent="0", bonus_percent="10")
    client, person = logged_in(panel)
    token = token_of(pay(client, method, "40", reference="TRX-778899", proof=PNG))
    page = client.get(f"/funds/payments/{token}")
    assert page.status_code == 200
    assert "Waiting for staff" in page.text and 'http-equiv="refresh"' in page.text
    assert "Send it to IBAN" in page.text and "TRX-778899" in page.text
    proof = client.get(f"/funds/payments/{token}/proof")
    assert proof.status_code == 200 and proof.content == PNG
    assert proof.headers["content-type"] == "image/png"
    assert proof.headers["x-content-type-options"] == "nosniff"
    funds = client.get("/funds").text
    assert f'href="/funds/payments/{token}"' in funds and "Pending" in funds

    [payment] = payments_of(panel, person.id)
    staff, _ = logged_in(panel, staff=True)
    listed = staff.get("/admin/payments", params={"state": "pending", "method": method})
    assert f'data-payment="{payment.id}"' in listed.text
    detail = staff.get(f"/admin/payments/{payment.id}")
    assert detail.status_code == 200 and 'id="approve-form"' in detail.text
    assert staff.get(f"/admin/payments/{payment.id}/proof").content == PNG
    assert client.get(f"/admin/payments/{payment.id}/proof").status_code == 403
    # A bad amount received is refused on the page, and nothing is credited.
    bad = staff.post(f"/admin/payments/{payment.id}/approve", {"amount": "lots"})
    assert bad.status_code == 400 and "Incorrect amount received" in bad.text
    assert balance(panel, person.id) == 0
    done = staff.post(f"/admin/payments/{payment.id}/approve", {"amount": ""})
    assert "approved: $44.00 credited" in staff.flash(done)
    assert balance(panel, person.id) == Decimal("44")
    again = staff.post(f"/admin/payments/{payment.id}/approve", {"amount": ""})
    assert again.status_code == 400 and "is paid already" in again.text
    assert balance(panel, person.id) == Decimal("44")
    shown = client.get(f"/funds/payments/{token}").text
    assert "Paid" in shown and 'http-equiv="refresh"' not in shown and "$44.00" in shown
    with panel.db.read() as session:
        codes = set(session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"payment:{payment.id}")))
    assert codes == {"payment.approve"}
    assert staff.get("/admin/audit").text.count("Approved payment #") >= 1
    assert panel.ledger_mismatches() == []
    client.close()
    staff.close()


def test_staff_reject_with_a_reason_the_customer_sees(panel: Panel) -> None:
    method = add_method(panel, "manual")
    client, person = logged_in(panel)
    token = token_of(pay(client, method, "15", reference="WIRE 42"))
    [payment] = payments_of(panel, person.id)
    staff, _ = logged_in(panel, staff=True)
    short = staff.post(f"/admin/payments/{payment.id}/reject", {"reason": "no"})
    assert short.status_code == 400 and "Give the customer a reason" in short.text
    done = staff.post(f"/admin/payments/{payment.id}/reject",
                      {"reason": "No transfer <b>found</b>"})
    assert "rejected" in staff.flash(done)
    page = client.get(f"/funds/payments/{token}").text
    assert "Failed" in page and "No transfer &lt;b&gt;found&lt;/b&gt;" in page
    assert balance(panel, person.id) == 0
    missing = staff.post("/admin/payments/99999999/approve", {"amount": ""})
    assert missing.status_code in (303, 400, 404)
    assert staff.get("/admin/payments/99999999").status_code == 404
    client.close()
    staff.close()


def test_hostile_manual_payments_are_refused_and_change_nothing(panel: Panel) -> None:
    method = add_method(panel, "manual", min_amount="5", max_amount="100")
    client, person = logged_in(panel)
    cases = [
        ({"amount": "abc", "reference": "REF-1"}, None, "Enter an amount"),
        ({"amount": "1", "reference": "REF-1"}, None, "minimum deposit"),
        ({"amount": "1e9", "reference": "REF-1"}, None, "maximum deposit"),
        ({"amount": "10", "reference": ""}, None, "Enter the reference"),
        ({"amount": "10", "reference": "x" * 300}, None, "Enter the reference"),
        ({"amount": "10", "reference": "REF-1"}, b"GIF89a not allowed", "PNG, JPEG or WebP"),
        ({"amount": "10", "reference": "REF-1"}, b"<svg onload=alert(1)>", "PNG, JPEG or WebP"),
    ]
    for fields, proof, message in cases:
        answer = pay(client, method, fields["amount"], reference=fields["reference"], proof=proof)
        assert answer.status_code == 400, (fields, answer.status_code)
        assert message in answer.text, (fields, message)
    forged = pay(client, "no-such-method", "10", reference="REF-1")
    assert forged.status_code == 400 and "No payment method named" in forged.text
    # Larger than 2 MB: refused before anything is read.
    huge = pay(client, method, "10", reference="REF-1", proof=PNG + b"\x00" * (2 * 1024 * 1024))
    assert huge.status_code == 413 and "too large" in huge.text
    # Two files, or a file under another name: the form cannot be read.
    token = client.token()
    two = client.http.post("/funds/add", data={"method": method, "amount": "10",
                                               "reference": "REF-1", "csrf": token},
                           files=[("proof", ("a.png", PNG, "image/png")),
                                  ("proof", ("b.png", PNG, "image/png"))])
    assert two.status_code == 400
    other = client.http.post("/funds/add", data={"method": method, "amount": "10",
                                                 "reference": "REF-1", "csrf": token},
                             files={"evil": ("a.png", PNG, "image/png")})
    assert other.status_code == 400
    # No CSRF token, or another visitor's: refused.
    assert pay(client, method, "10", reference="REF-1", csrf="forged").status_code == 403
    # Other pages still take no file at all.
    keys = client.http.post("/account/keys", data={"label": "x", "csrf": token},
                            files={"proof": ("a.png", PNG, "image/png")})
    assert keys.status_code == 400
    assert payments_of(panel, person.id) == []
    assert balance(panel, person.id) == 0
    client.close()


def test_a_payment_and_its_proof_are_only_their_owners(panel: Panel) -> None:
    method = add_method(panel, "manual")
    owner, _ = logged_in(panel)
    token = token_of(pay(owner, method, "10", reference="MINE-1", proof=PDF))
    pdf = owner.get(f"/funds/payments/{token}/proof")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    stranger, _ = logged_in(panel)
    for path in (f"/funds/payments/{token}", f"/funds/payments/{token}/proof",
                 f"/funds/payments/{token}/return", "/funds/payments/nope",
                 "/funds/payments/" + "A" * 300, "/funds/payments/%00%27/return"):
        assert stranger.get(path).status_code == 404, path
    anonymous = WebClient(panel.url)
    assert anonymous.get(f"/funds/payments/{token}").status_code == 303
    assert anonymous.get(f"/funds/payments/{token}/proof").status_code == 303
    owner.close()
    stranger.close()
    anonymous.close()


# --- Stripe: the page starts it, the webhook settles it, the return page shows it ---------
def test_a_stripe_payment_from_the_page_to_the_balance(panel: Panel, stripe: FakeStripe) -> None:
    method = stripe_method(panel, stripe, fee_percent="3", bonus_percent="0")
    stripe.webhook_url = f"{panel.url}{payment_methods.callback_path(PaymentMethod(name=method))}"
    client, person = logged_in(panel)
    started = pay(client, method, "20.00")
    assert started.status_code == 200, started.text[:500]
    link = re.search(r'id="gateway-link" href="([^"]+)"', started.text)
    assert link and link.group(1).startswith(f"{stripe.url}/c/pay/cs_test_")
    assert 'http-equiv="refresh" content="0;url=' in started.text
    [payment] = payments_of(panel, person.id)
    session = stripe.sessions[payment.reference or ""]
    assert session["success_url"] == f"{panel.url}/funds/payments/{payment.token}/return"
    assert session["amount_total"] == 2000
    # Before paying, the payment's page waits and refreshes itself.
    waiting = client.get(f"/funds/payments/{payment.token}").text
    assert "Confirming" in waiting and 'content="3"' in waiting
    confirm = httpx.post(f"{stripe.url}/c/pay/{session['id']}/confirm")
    assert confirm.status_code == 303 and stripe.webhook_answers[-1] == 200
    back = client.get(confirm.headers["location"])
    assert back.status_code == 303
    assert back.headers["location"] == f"/funds/payments/{payment.token}"
    page = client.get(back.headers["location"]).text
    assert "Paid" in page and "$19.40" in page and "Confirming" not in page
    assert balance(panel, person.id) == Decimal("19.40")
    staff, _ = logged_in(panel, staff=True)
    detail = staff.get(f"/admin/payments/{payment.id}").text
    assert "checkout.session.completed" in detail and "&#34;object&#34;" in detail
    assert session["id"] in detail
    dashboard = staff.get("/admin").text
    assert 'id="deposits-total"' in dashboard and "Deposits" in dashboard
    assert panel.ledger_mismatches() == []
    client.close()
    staff.close()


@pytest.fixture(scope="module")
def paypal() -> Iterator[FakePayPal]:
    fake = FakePayPal()
    fake.start()
    yield fake
    fake.stop()


def test_paypal_is_captured_when_the_customer_returns(panel: Panel, paypal: FakePayPal) -> None:
    method = add_method(panel, "paypal", title="PayPal", settings={
        "client_id": paypal.client_id, "client_secret": paypal.client_secret,
        "webhook_id": paypal.webhook_id, "api_base": paypal.url, "timeout": "5"})
    client, person = logged_in(panel)
    started = pay(client, method, "12.50")
    assert started.status_code == 200, started.text[:300]
    [payment] = payments_of(panel, person.id)
    assert payment.reference in paypal.orders
    # Returning before approving changes nothing; the page keeps waiting.
    early = client.get(f"/funds/payments/{payment.token}/return")
    assert early.headers["location"] == f"/funds/payments/{payment.token}"
    assert "Confirming" in client.get(early.headers["location"]).text
    assert balance(panel, person.id) == 0
    paypal.approve(payment.reference or "")
    captures = paypal.count("POST", f"/v2/checkout/orders/{payment.reference}/capture")
    back = client.get(f"/funds/payments/{payment.token}/return")
    assert back.status_code == 303
    assert paypal.count("POST", f"/v2/checkout/orders/{payment.reference}/capture") == captures + 1
    page = client.get(back.headers["location"]).text
    assert "Paid" in page and "Confirming" not in page
    assert balance(panel, person.id) == Decimal("12.50")
    # Coming back again asks nothing more and credits nothing more.
    client.get(f"/funds/payments/{payment.token}/return")
    assert paypal.count("POST", f"/v2/checkout/orders/{payment.reference}/capture") == captures + 1
    assert balance(panel, person.id) == Decimal("12.50")
    assert panel.ledger_mismatches() == []
    client.close()


def test_a_gateway_that_refuses_leaves_a_clear_message(panel: Panel, stripe: FakeStripe) -> None:
    method = add_method(panel, "stripe", settings={
        "secret_key": "sk_test_wrong", "webhook_secret": stripe.webhook_secret,
        "api_base": stripe.url, "timeout": "5"})
    client, person = logged_in(panel)
    answer = pay(client, method, "20")
    assert answer.status_code == 400 and "could not be started" in answer.text
    [payment] = payments_of(panel, person.id)
    assert payment.state == "failed"
    client.close()


# --- staff: payment methods -----------------------------------------------------------------
def test_staff_add_and_edit_a_method_with_masked_credentials(
    panel: Panel, stripe: FakeStripe
) -> None:
    staff, _ = logged_in(panel, staff=True)
    assert "Stripe" in staff.get("/admin/payment-methods").text
    form = staff.get("/admin/payment-methods/new", params={"gateway": "stripe"})
    assert form.status_code == 200 and 'name="setting_secret_key"' in form.text
    assert staff.get("/admin/payment-methods/new",
                     params={"gateway": "bogus<x>"}).status_code == 400
    name = f"card-{uuid.uuid4().hex[:6]}"
    fields = {"gateway": "stripe", "name": name, "title": "Card", "min_amount": "5",
              "max_amount": "", "fee_percent": "2", "bonus_percent": "0", "bonus_from": "",
              "setting_secret_key": stripe.secret_key,
              "setting_webhook_secret": stripe.webhook_secret, "setting_api_base": stripe.url,
              "setting_timeout": "5", "instructions_en": "Pay by card",
              "instructions_ar": "ادفع بالبطاقة"}
    forged = staff.post("/admin/payment-methods", {**fields, "gateway": "evil"})
    assert forged.status_code in (303, 400)
    incomplete = staff.post("/admin/payment-methods", {**fields, "setting_secret_key": ""})
    assert incomplete.status_code == 400 and "incomplete" in incomplete.text
    bad_fee = staff.post("/admin/payment-methods", {**fields, "fee_percent": "150"})
    assert bad_fee.status_code == 400 and "percentage" in bad_fee.text
    bad_name = staff.post("/admin/payment-methods", {**fields, "name": "Bad Name!"})
    assert bad_name.status_code == 400 and "lower-case" in bad_name.text
    added = staff.post("/admin/payment-methods", fields)
    assert added.status_code == 303, added.text[:500]
    page = staff.get(added.headers["location"]).text
    assert stripe.secret_key not in page and stripe.webhook_secret not in page
    assert stripe.secret_key[-4:] in page  # masked: "set, ends in …"
    assert f"{panel.url}/payments/callback/{name}" in page
    # Only a trusted proxy is believed about HTTPS (none is configured here).
    forwarded = staff.get(added.headers["location"], headers={"X-Forwarded-Proto": "https"})
    assert f"{panel.url}/payments/callback/{name}" in forwarded.text
    with panel.db.read() as session:
        method = session.scalar(select(PaymentMethod).where(PaymentMethod.name == name))
        assert method is not None
        stored = dict(method.settings)
        method_id = method.id
    assert stored["secret_key"] != stripe.secret_key  # encrypted at rest
    # Editing with the credentials left blank keeps them.
    edited = staff.post(f"/admin/payment-methods/{method_id}", {
        "title": "Card payments", "min_amount": "6", "max_amount": "300", "fee_percent": "1",
        "bonus_percent": "0", "bonus_from": "", "setting_secret_key": "",
        "setting_webhook_secret": "", "setting_api_base": stripe.url, "setting_timeout": "5",
        "instructions_en": "Pay by card", "instructions_ar": "ادفع بالبطاقة"})
    assert "saved" in staff.flash(edited)
    with panel.db.read() as session:
        method = session.get(PaymentMethod, method_id)
        assert method is not None
        assert method.settings["secret_key"] == stored["secret_key"]
        assert (method.title, method.min_amount, method.max_amount) == (
            "Card payments", Decimal(6), Decimal(300))
    assert "disabled" in staff.flash(staff.post(f"/admin/payment-methods/{method_id}/disable"))
    customer, _ = logged_in(panel)
    assert f'id="pay-{name}"' not in customer.get("/funds").text
    assert "No payment method named" in pay(customer, name, "10").text
    assert "enabled" in staff.flash(staff.post(f"/admin/payment-methods/{method_id}/enable"))
    assert f'id="pay-{name}"' in customer.get("/funds").text
    audit = staff.get("/admin/audit").text
    for words in ("Added the payment method", "Edited the payment method",
                  "Disabled the payment method", "Enabled the payment method"):
        assert words in audit
    assert customer.get("/admin/payment-methods").status_code == 403
    assert customer.post(f"/admin/payment-methods/{method_id}/disable").status_code == 403
    customer.close()
    staff.close()


def test_staff_see_waiting_payments_and_mark_flagged_ones_reviewed(panel: Panel) -> None:
    method = add_method(panel, "manual")
    client, person = logged_in(panel)
    token_of(pay(client, method, "12", reference="LATE-1"))
    [payment] = payments_of(panel, person.id)
    staff, _ = logged_in(panel, staff=True)
    dashboard = staff.get("/admin").text
    waiting = re.search(r'id="payments-waiting">(\d+)<', dashboard)
    assert waiting and int(waiting.group(1)) >= 1
    # Approved with less than asked: flagged for a person.
    staff.post(f"/admin/payments/{payment.id}/approve", {"amount": "10"})
    with panel.write() as session:
        flagged = session.get(Payment, payment.id)
        assert flagged is not None
        flagged.needs_review = True
    assert f'data-payment="{payment.id}"' in staff.get("/admin/payments",
                                                       params={"review": "1"}).text
    done = staff.post(f"/admin/payments/{payment.id}/reviewed", {"note": "short by 2"})
    assert "marked as reviewed" in staff.flash(done)
    again = staff.post(f"/admin/payments/{payment.id}/reviewed", {"note": ""})
    assert again.status_code == 400 and "needs no review" in again.text
    for query in ({"state": "bogus"}, {"method": "x" * 500}, {"user": "\x00"}, {"page": "-1"}):
        assert staff.get("/admin/payments", params=query).status_code == 200
    with panel.db.read() as session:
        count = session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "payment.reviewed"))
    assert count and count >= 1
    client.close()
    staff.close()


def test_csrf_is_required_for_every_payment_action(panel: Panel) -> None:
    staff, _ = logged_in(panel, staff=True)
    for path in ("/admin/payments/1/approve", "/admin/payments/1/reject",
                 "/admin/payments/1/reviewed", "/admin/payment-methods",
                 "/admin/payment-methods/1", "/admin/payment-methods/1/disable"):
        assert staff.post(path, {"csrf": "nope"}).status_code == 403, path
    page = staff.get("/admin/payment-methods").text
    assert csrf_of(page)
    staff.close()


def test_a_coupon_typed_on_add_funds_is_shown_live_and_credited_once_paid(
    panel: Panel,
) -> None:
    from opensmm.coupons import service as coupons
    from opensmm.payments import service as payment_service

    method = add_method(panel, "manual")
    code = f"WELCOME{uuid.uuid4().hex[:6].upper()}"
    with panel.write() as session:
        coupons.create(session, Actor.cli(), code, percent=Decimal("10"), per_customer=1)
    client, person = logged_in(panel)
    try:
        live = client.get("/funds/preview", params={"method": method, "amount": "50",
                                                     "coupon": code.lower()}).json()
        assert live["error"] == "" and live["coupon"].endswith("5.00")
        assert live["credit"].endswith("55.00")
        unknown = client.get("/funds/preview", params={"method": method, "amount": "50",
                                                        "coupon": "NOPE-NOPE"}).json()
        assert unknown["error"]
        fields = {"method": method, "amount": "50", "reference": "TRX-COUPON-1",
                  "coupon": code, "csrf": client.token()}
        answer = client.http.post("/funds/add", data=fields,
                                  files={"proof": ("", b"", "application/octet-stream")})
        assert answer.status_code == 303, answer.text[:300]
        again = client.http.post("/funds/add", data={**fields, "reference": "TRX-COUPON-2",
                                                     "csrf": client.token()},
                                 files={"proof": ("", b"", "application/octet-stream")})
        assert again.status_code == 400  # one use per customer: refused, nothing written
    finally:
        client.close()
    with panel.db.read() as session:
        [payment_id] = session.scalars(select(Payment.id).where(Payment.user_id == person.id))
    with panel.write() as session:
        payment_service.approve(session, Actor.cli(), payment_id)
    assert balance(panel, person.id) == Decimal("55")
    assert panel.ledger_mismatches() == []
