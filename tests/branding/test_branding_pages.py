"""Branding on one running panel: maintenance mode as customers, staff, API clients and a
payment gateway meet it; the logo uploaded by staff and served with an ETag; the theme's
stylesheet; sign-ups closed everywhere; the content pages edited with a preview, linked from
the footer, and the terms accepted (and recorded) at sign-up. Then one browser journey in
English and Arabic."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from opensmm.accounts.models import User
from opensmm.audit.actor import Actor
from opensmm.branding import assets, content
from opensmm.orders.models import Order
from opensmm.panel_settings import service as panel_settings
from tests.branding.test_branding import SVG, png
from tests.payments.fakes.nowpayments import FakeNowPayments
from tests.payments.flow import Payments
from tests.support.panel import Panel, running_panel
from tests.web.support import Person, WebClient, csrf_of, make_person
from tests.web.test_browser import browser, new_context, watch_errors

__all__ = ["browser"]

ACTOR = Actor.cli()
MESSAGE = "Upgrading the servers, back at 18:00 UTC"


@pytest.fixture(scope="module")
def panel(database_servers: dict) -> Iterator[Panel]:  # type: ignore[type-arg]
    # One panel (SQLite) for the whole module: the services' tests run on both databases.
    with running_panel(database_servers, "sqlite", "--no-worker") as started:
        yield started


@pytest.fixture(scope="module")
def nowpayments() -> Iterator[FakeNowPayments]:
    fake = FakeNowPayments().start()
    yield fake
    fake.stop()


def setting(panel: Panel, name: str, value: str) -> None:
    with panel.write() as session:
        panel_settings.set_value(session, name, value, ACTOR)


def staff_client(panel: Panel, **headers: str) -> tuple[WebClient, Person]:
    client = WebClient(panel.url, **headers)
    person = make_person(panel, staff=True)
    client.login(person)
    return client, person


def test_maintenance_turns_customers_and_the_api_away_but_not_staff_nor_payments(
    panel: Panel, nowpayments: FakeNowPayments
) -> None:
    payments = Payments(panel)
    payments.method("crypto", "nowpayments", {
        "api_key": nowpayments.api_key, "ipn_secret": nowpayments.ipn_secret,
        "email": nowpayments.email, "password": nowpayments.password,
        "api_base": nowpayments.url, "timeout": "5",
    })
    customer = panel.customer("5")
    payment = payments.start(customer, "crypto", "20.00")
    service_id = panel.service(name="Maintenance test", rate="1")
    shopper = WebClient(panel.url)
    shopper_person = make_person(panel, balance="10")
    shopper.login(shopper_person)
    staff, _ = staff_client(panel)
    saved = staff.post("/admin/settings", {"name": "maintenance_message", "value": MESSAGE})
    assert saved.status_code == 303
    assert staff.post("/admin/settings", {"name": "maintenance", "value": "on"}
                      ).status_code == 303
    try:
        anonymous = WebClient(panel.url)
        arabic = WebClient(panel.url, **{"Accept-Language": "ar"})
        for client, path in ((anonymous, "/"), (anonymous, "/services"), (anonymous, "/signup"),
                             (shopper, "/dashboard"), (shopper, "/order/new")):
            page = client.get(path)
            assert page.status_code == 503, path
            assert page.headers["retry-after"] == "300"
            assert MESSAGE in page.text and 'id="maintenance"' in page.text
        page = arabic.get("/services")
        assert page.status_code == 503 and '<html lang="ar" dir="rtl">' in page.text
        assert "سنعود قريبًا" in page.text and MESSAGE in page.text
        token = csrf_of(shopper.get("/dashboard").text)  # the log-out form's, on that page
        refused = shopper.post("/order/new", {"service": service_id, "link": "https://x.test/a",
                                              "quantity": "100", "csrf": token})
        assert refused.status_code == 503
        with panel.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Order)
                                  .where(Order.user_id == shopper_person.id)) == 0
        # Staff keep working, and a staff member can still log in.
        assert staff.get("/admin").status_code == 200
        assert staff.get("/admin/settings").status_code == 200
        late, _ = staff_client(panel)
        assert late.get("/admin/orders").status_code == 200
        # The API answers with the owner's words (HTTP 200, JSON), once this process's
        # check (at most a second old) sees the change.
        deadline = time.monotonic() + 10
        while (answer := panel.api(customer.key, "balance")) != {"error": MESSAGE}:
            assert time.monotonic() < deadline, answer
        assert panel.api(None, "services") == {"error": MESSAGE}
        # The gateway's callback still credits the payment: no money is lost meanwhile.
        paid = nowpayments.pay(payment.reference, "finished", pay_amount=0.001,
                               actually_paid=0.001)
        body, headers = nowpayments.ipn(paid)
        assert payments.deliver("crypto", body, headers).status_code == 200
        assert payments.payment(payment.id).state == "paid"
        assert panel.balance(customer) == Decimal("25.00")
    finally:
        setting(panel, "maintenance", "off")
    assert anonymous.get("/services").status_code == 200
    assert shopper.get("/dashboard").status_code == 200
    deadline = time.monotonic() + 10
    while "error" in (answer := panel.api(customer.key, "balance")):
        assert time.monotonic() < deadline, answer
    assert Decimal(answer["balance"]) == Decimal(25)


def test_staff_upload_a_logo_served_with_an_etag_and_shown_on_every_page(panel: Panel) -> None:
    staff, _ = staff_client(panel)
    logo = png(3, 3)
    uploaded = staff.http.post("/admin/settings/picture", data={
        "csrf": staff.token(), "name": "logo", "action": "upload"},
        files={"file": ("logo.png", logo, "image/png")})
    assert "logo uploaded." in staff.flash(uploaded)
    home = httpx.get(f"{panel.url}/").text
    match = re.search(r'<img class="brand-logo" src="(/branding/logo\?v=([0-9a-f]+))" alt="">',
                      home)
    assert match, home[:2000]
    for path in ("/login", "/services", "/no-such-page"):
        assert match.group(1) in httpx.get(f"{panel.url}{path}").text, path
    served = httpx.get(f"{panel.url}{match.group(1)}")
    assert served.status_code == 200 and served.content == logo
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["etag"] == f'"{match.group(2)}"'
    again = httpx.get(f"{panel.url}/branding/logo",
                      headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # An SVG (scripts inside) or a page posing as a PNG is refused on the page; nothing
    # changes, never a 500.
    for name, data in (("logo.svg", SVG), ("logo.png", b"<html>" + b"x" * 64)):
        refused = staff.http.post("/admin/settings/picture", data={
            "csrf": staff.token(), "name": "logo", "action": "upload"},
            files={"file": (name, data, "image/png")})
        assert refused.status_code == 400
        assert "A logo is a PNG, JPEG or WebP picture of at most 512 KB" in refused.text
    assert httpx.get(f"{panel.url}/branding/logo").content == logo
    assert httpx.get(f"{panel.url}/branding/secret").status_code == 404
    # The theme's stylesheet follows the settings.
    assert staff.post("/admin/settings", {"name": "theme_primary", "value": "#0e7490"}
                      ).status_code == 303
    theme_link = re.search(r'href="(/theme\.css\?v=[0-9a-f]+)"', httpx.get(
        f"{panel.url}/login").text)
    assert theme_link
    css = httpx.get(f"{panel.url}{theme_link.group(1)}")
    assert css.headers["content-type"].startswith("text/css") and "etag" in css.headers
    assert "--primary: #0e7490;" in css.text
    refused = staff.post("/admin/settings", {"name": "theme_primary", "value": "#ffff00"})
    assert refused.status_code == 400 and "does not contrast enough" in refused.text


def test_closed_signups_leave_no_link_and_no_door(panel: Panel) -> None:
    setting(panel, "signups", "closed")
    try:
        visitor = WebClient(panel.url)
        for path in ("/", "/login", "/services", "/api"):
            page = visitor.get(path)
            assert page.status_code == 200 and 'href="/signup"' not in page.text, path
        name = f"n{uuid.uuid4().hex[:8]}"
        refused = visitor.post("/signup", {"name": name, "email": f"{name}@example.test",
                                           "password": "a good password",
                                           "password2": "a good password"})
        assert refused.status_code == 400 and "Sign-ups are closed" in refused.text
        with panel.db.read() as session:
            assert session.scalar(select(User).where(User.name == name)) is None
    finally:
        setting(panel, "signups", "open")
    assert 'href="/signup"' in WebClient(panel.url).get("/login").text


def test_staff_write_the_terms_with_a_preview_and_sign_up_records_them(panel: Panel) -> None:
    staff, _ = staff_client(panel)
    assert 'href="/admin/content/terms/ar"' in staff.get("/admin/content").text
    hostile = "# Terms\n\n<script>alert(1)</script> [x](javascript:alert(1))"
    preview = staff.post("/admin/content/terms/en", {"body": hostile, "action": "preview"})
    assert preview.status_code == 200 and 'id="preview"' in preview.text
    assert "<h1>Terms</h1>" in preview.text and "<script>alert" not in preview.text
    assert 'href="javascript' not in preview.text
    with panel.db.read() as session:
        assert content.current_terms_version(session) is None  # a preview saves nothing
    too_long = staff.post("/admin/content/terms/en", {"body": "x" * 50_001, "action": "save"})
    assert too_long.status_code == 400 and "at most 50000 characters" in too_long.text
    saved = staff.post("/admin/content/terms/en", {"body": "# Terms\n\nBe **nice**.",
                                                   "action": "save"})
    assert "Page saved." in staff.flash(saved)
    visitor = WebClient(panel.url, **{"Accept-Language": "ar"})
    terms = visitor.get("/terms")  # no Arabic text yet: the English one
    assert terms.status_code == 200 and '<div class="content-text" lang="en"' in terms.text
    assert "<strong>nice</strong>" in terms.text
    assert 'href="/terms"' in visitor.get("/services").text  # the footer links it
    assert visitor.get("/privacy").status_code == 404  # not written in any language
    signup = visitor.get("/signup").text
    assert 'name="accept_terms"' in signup
    name = f"t{uuid.uuid4().hex[:8]}"
    fields = {"name": name, "email": f"{name}@example.test", "password": "a good password",
              "password2": "a good password"}
    refused = visitor.post("/signup", fields)
    assert refused.status_code == 400 and 'name="accept_terms"' in refused.text
    with panel.db.read() as session:
        assert session.scalar(select(User).where(User.name == name)) is None
    assert visitor.post("/signup", {**fields, "accept_terms": "yes"}).status_code == 303
    with panel.db.read() as session:
        user = session.scalar(select(User).where(User.name == name))
        version = content.current_terms_version(session)
        assert user is not None and version is not None
        assert user.terms_version == version and user.terms_accepted_at is not None


@pytest.mark.browser
def test_a_branded_panel_in_a_browser(browser: Browser, panel: Panel) -> None:
    """English and Arabic: the logo and the owner's colours in the header and buttons, the
    home page and FAQ written by staff (Arabic falls back where no Arabic was written), and
    a sign-up that must accept the terms."""
    with panel.write() as session:
        content.save(session, "home", "en", "# Acme followers\n\nGrow fast.", ACTOR)
        content.save(session, "home", "ar", "# متابعون أكمي\n\nنمو سريع.", ACTOR)
        content.save(session, "faq", "en", "## Is it safe?\n\nYes.", ACTOR)
        content.save(session, "terms", "en", "# Terms\n\nBe nice.", ACTOR)
        assets.store(session, "logo", png(4, 4), ACTOR)
    setting(panel, "theme_primary", "#0e7490")
    for lang, hero in (("en", "Acme followers"), ("ar", "متابعون أكمي")):
        context = new_context(browser, panel, lang=lang)
        page = context.new_page()
        errors = watch_errors(page)
        page.goto("/")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator(".hero h1")).to_have_text(hero)
        logo = page.locator("header .brand-logo")
        expect(logo).to_be_visible()
        assert logo.evaluate("img => img.complete && img.naturalWidth > 0")
        button = page.locator(".hero .button.primary")
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(14, 116, 144)"
        page.locator("footer a[href='/faq']").click()
        expect(page.locator(".content-text h2")).to_have_text("Is it safe?")
        page.goto("/signup")
        name = f"b{lang}{uuid.uuid4().hex[:6]}"
        page.fill("input[name=name]", name)
        page.fill("input[name=email]", f"{name}@example.test")
        page.fill("input[name=password]", "a good password")
        page.fill("input[name=password2]", "a good password")
        page.click("form[action='/signup'] button[type=submit]")
        expect(page).to_have_url(re.compile(r"/signup$"))  # the browser asks for the box
        assert page.locator("input[name=accept_terms]").evaluate("box => !box.validity.valid")
        page.check("input[name=accept_terms]")
        page.click("form[action='/signup'] button[type=submit]")
        expect(page).to_have_url(re.compile(r"/dashboard$"))
        assert errors == []
        context.close()
    with panel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(User)
                              .where(User.terms_version.is_not(None))) >= 2
