"""The pages in a real browser: Debian's Chromium driven by Playwright, against a running
``opensmm serve`` (SQLite, a simulator that finishes orders in about a second).

The journeys: a customer signs up, is funded by staff, orders from the form (live price),
sees the order complete and asks for a refill; staff import a provider's services with a
markup; a customer is refused every staff page; the Arabic pages read right to left. The
last test shoots the main pages (both languages, desktop and phone widths); with
``--screenshots`` it saves them into ``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import update

from opensmm.admin.pages import all_pages
from opensmm.audit.actor import Actor
from opensmm.db import utcnow
from opensmm.i18n import formatting
from opensmm.i18n.translate import Translator
from opensmm.orders.models import Order
from opensmm.payments import methods as payment_methods
from opensmm.payments.keys import panel_secret
from opensmm.providers import staff as providers_staff
from tests.fakepanel import FakePanel
from tests.payments.fakes.nowpayments import FakeNowPayments
from tests.payments.fakes.paypal import FakePayPal
from tests.payments.fakes.stripe import FakeStripe
from tests.support.panel import Panel
from tests.web import axe
from tests.web.support import Person, make_person

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Waiting for the simulator (a second per stage) and the worker: a deadline, not a timing.
COMPLETION_DEADLINE_SECONDS = 90


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_context(browser: Browser, panel: Panel, *, phone: bool = False,
                lang: str | None = None) -> BrowserContext:
    context = browser.new_context(
        base_url=panel.url,
        viewport=PHONE if phone else DESKTOP,
        device_scale_factor=1,
        is_mobile=phone,
        has_touch=phone,
        locale="en-US",
    )
    if lang:
        context.add_cookies([{"name": "opensmm_lang", "value": lang, "url": panel.url}])
    context.set_default_timeout(15_000)
    return context


def watch_errors(page: Page) -> list[str]:
    """Script errors and failed requests of a page: none are expected, anywhere."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    # A request cut short by the next navigation ("aborted") is not a failure.
    page.on("requestfailed", lambda req: None if "ABORTED" in (req.failure or "")
            else errors.append(f"failed: {req.url} {req.failure}"))
    return errors


def log_in(page: Page, person: Person) -> None:
    page.goto("/login")
    page.fill("input[name=login]", person.name)
    page.fill("input[name=password]", person.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def reload_until(page: Page, locator: str, text: str) -> None:
    """Reload the page until ``locator`` shows ``text`` (the worker moves orders on)."""
    deadline = time.monotonic() + COMPLETION_DEADLINE_SECONDS
    while True:
        if text in page.locator(locator).inner_text():
            return
        assert time.monotonic() < deadline, f"{locator} never showed {text!r}"
        page.wait_for_timeout(500)
        page.reload()


def test_a_customer_signs_up_is_funded_orders_and_gets_a_refill(
    browser: Browser, fast_panel: Panel
) -> None:
    panel = fast_panel
    staff = make_person(panel, staff=True)
    name = f"buyer{uuid.uuid4().hex[:6]}"

    # Staff put a simulator service in the catalog, from the back office.
    office = new_context(browser, panel)
    desk = office.new_page()
    desk_errors = watch_errors(desk)
    log_in(desk, staff)
    expect(desk).to_have_url(re.compile(r"/admin$"))
    desk.goto("/admin/services/new")
    axe.check_once(desk)
    desk.fill("input[name=name]", "Simulated Followers")
    desk.fill("input[name=category]", "Instagram")
    desk.fill("input[name=rate]", "0.9")
    desk.fill("input[name=min_quantity]", "10")
    desk.fill("input[name=max_quantity]", "10000")
    desk.select_option("select[name=fulfillment]", "simulator")
    desk.check("input[name=refill]")
    desk.fill("textarea[name=description]", "Delivered by the simulator")
    desk.click("#service-form button[type=submit]")
    created = re.search(r"Service (\d+) created", desk.locator(".flash-ok").inner_text())
    assert created
    service_id = created.group(1)

    # The customer signs up.
    shop = new_context(browser, panel)
    page = shop.new_page()
    errors = watch_errors(page)
    page.goto("/")
    page.click("text=Sign up")
    axe.check_once(page)
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", f"{name}@example.test")
    page.fill("input[name=password]", "a good password")
    page.fill("input[name=password2]", "a good password")
    page.click("form[action='/signup'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#balance")).to_have_text("$0.00")
    axe.check_once(page)

    # Staff find them and add funds with a memo.
    desk.goto(f"/admin/users?q={name}")
    desk.click(f"text={name}")
    desk.fill("#funds-form input[name=amount]", "25")
    desk.fill("#funds-form input[name=memo]", "Bank transfer 42")
    desk.click("#funds-form button[type=submit]")
    expect(desk.locator("#customer-balance")).to_have_text("$25.00")
    desk.goto("/admin/audit")
    expect(desk.locator("#audit-table")).to_contain_text("funds.adjust")

    # The customer sees the money and its history, then orders from the form.
    page.goto("/funds")
    expect(page.locator("#balance")).to_have_text("$25.00")
    expect(page.locator("#history-table")).to_contain_text("Bank transfer 42")
    page.goto("/order/new")
    page.select_option("#category", "Instagram")
    page.select_option("#service", service_id)
    expect(page.locator("#service-desc")).to_have_text("Delivered by the simulator")
    expect(page.locator("#service-min")).to_have_text("10")
    expect(page.locator("label[data-field=comments]")).to_be_hidden()
    page.fill("input[name=link]", "https://www.instagram.com/p/browser-test/")
    page.fill("input[name=quantity]", "5")
    expect(page.locator("#quote-error")).to_have_text("Quantity less than minimal 10")
    page.fill("input[name=quantity]", "1000")
    expect(page.locator("#quote-charge")).to_have_text("$0.90")
    expect(page.locator("#quote-error")).to_have_text("")
    axe.check_once(page)
    page.click("#order-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/orders$"))
    flash = page.locator(".flash-ok").inner_text()
    placed = re.search(r"Order (\d+) placed: \$0.90 charged.", flash)
    assert placed, flash
    order_id = placed.group(1)
    row = f"tr[data-order='{order_id}']"
    expect(page.locator(row)).to_contain_text("https://www.instagram.com/p/browser-test/")

    # The simulator delivers; the customer watches the order complete, then asks a refill.
    reload_until(page, f"{row} .order-status", "Completed")
    expect(page.locator(f"{row} td").nth(8)).to_have_text("0")  # nothing remains
    page.locator(row).get_by_role("button", name="Refill").click()
    expect(page.locator(".flash-ok")).to_contain_text(f"requested for order {order_id}")
    page.click(".side-nav a[href='/refills']")  # in the sidebar's Orders group
    expect(page.locator("table")).to_contain_text(order_id)
    expect(page.locator("#balance, .balance").first).to_have_text("$24.10")
    assert errors == []
    assert desk_errors == []
    office.close()
    shop.close()
    assert panel.ledger_mismatches() == []


UPSTREAM = [
    {"service": 11, "name": "Premium Followers", "type": "Default", "category": "Instagram",
     "rate": "0.8", "min": "50", "max": "50000", "refill": True, "cancel": True,
     "desc": "Real accounts, 30 days refill"},
    {"service": 12, "name": "Video Views", "type": "Default", "category": "TikTok",
     "rate": "0.012", "min": "100", "max": "1000000", "refill": False, "cancel": False},
    {"service": 13, "name": "Custom Comments", "type": "Custom Comments", "category": "Instagram",
     "rate": "6", "min": "5", "max": "200", "refill": False, "cancel": False},
]


def test_staff_import_a_providers_services_with_a_markup(
    browser: Browser, fast_panel: Panel
) -> None:
    panel = fast_panel
    staff = make_person(panel, staff=True)
    context = new_context(browser, panel)
    page = context.new_page()
    errors = watch_errors(page)
    with FakePanel(key="provider-key") as upstream:
        upstream.on("services", UPSTREAM)
        upstream.on("balance", {"balance": "1520.75", "currency": "USD"})
        log_in(page, staff)
        page.click(".side-nav a[href='/admin/providers']")
        page.fill("#provider-form input[name=name]", f"up{uuid.uuid4().hex[:6]}")
        page.fill("#provider-form input[name=url]", upstream.url)
        page.fill("#provider-form input[name=api_key]", "provider-key")
        page.click("#provider-form button[type=submit]")
        expect(page.locator(".flash-ok")).to_contain_text("added")
        page.click("text=Check balance")
        expect(page.locator("#provider-balance")).to_have_text("1,520.75 USD")
        page.fill("#import-form input[name=markup]", "25")
        page.click("#import-form button[type=submit]")
        expect(page.locator("#import-report")).to_contain_text("Premium Followers")
        expect(page.locator(".flash-ok")).to_contain_text("3 services imported, 0 skipped.")
        table = page.locator("#provider-services")
        # Cost plus 25 %, rounded up: 0.8 → 1.00, 0.012 → 0.015, 6 → 7.50.
        expect(table.locator("tr", has_text="Premium Followers")).to_contain_text("1.00")
        expect(table.locator("tr", has_text="Video Views")).to_contain_text("0.015")
        expect(table.locator("tr", has_text="Custom Comments")).to_contain_text("7.50")
        assert upstream.count("services") == 1
    # Customers see the imported services at once.
    shopper = new_context(browser, panel)
    shop = shopper.new_page()
    shop.goto("/services?q=Premium")
    expect(shop.locator(".services-table")).to_contain_text("Premium Followers")
    expect(shop.locator(".services-table")).to_contain_text("1.00")
    assert errors == []
    context.close()
    shopper.close()


def test_a_customer_is_refused_every_staff_page(browser: Browser, fast_panel: Panel) -> None:
    customer = make_person(fast_panel, balance="1")
    context = new_context(browser, fast_panel)
    page = context.new_page()
    log_in(page, customer)
    paths = sorted({
        re.sub(r"\{[a-z_]+:int\}", "1", spec.path)
        for pages in all_pages() for spec in pages.specs if "GET" in spec.methods
    })
    assert len(paths) >= 12
    for path in paths:
        response = page.goto(path)
        assert response is not None
        assert response.status == 403, path
        expect(page.locator("main")).to_contain_text("This page is for staff only.")
        expect(page.locator(".sidebar")).not_to_contain_text("Back office")
    context.close()


def test_arabic_pages_read_right_to_left(browser: Browser, fast_panel: Panel) -> None:
    customer = make_person(fast_panel, balance="3")
    fast_panel.service(name="Arabic test", rate="1")
    context = new_context(browser, fast_panel)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, customer)
    page.focus(".lang-menu summary")  # the switch: a menu of the other languages, by keyboard
    page.keyboard.press("Enter")
    page.click('a.lang[lang="ar"]')  # named in its own language: العربية
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    expect(page.locator("nav")).to_contain_text("طلب جديد")
    brand = page.locator(".brand").bounding_box()
    assert brand is not None
    assert brand["x"] > DESKTOP["width"] / 2  # the brand sits on the right, in the sidebar
    sidebar_fits(page)
    page.goto("/order/new")
    axe.check_once(page)
    label = page.locator("label[data-field=link]").bounding_box()
    field = page.locator("input[name=link]").bounding_box()
    assert label is not None
    assert field is not None
    assert label["x"] + label["width"] >= field["x"] + field["width"] - 1  # aligned right
    # On a phone, in Arabic: the menu folds behind its button, nothing scrolls sideways.
    phone = new_context(browser, fast_panel, phone=True, lang="ar")
    small = phone.new_page()
    log_in(small, customer)
    expect(small.locator("html")).to_have_attribute("dir", "rtl")
    expect(small.locator(".side-nav")).to_be_hidden()
    small.click(".nav-button")
    expect(small.locator(".side-nav")).to_be_visible()
    for path in ("/dashboard", "/order/new", "/orders", "/services", "/funds", "/api"):
        small.goto(path)
        overflow = small.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
    assert errors == []
    context.close()
    phone.close()


# --- adding funds through payment gateways -------------------------------------------------------
PNG_PROOF = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256


@pytest.fixture(scope="module")
def checkout() -> Iterator[FakeStripe]:
    """A fake Stripe that serves its own Checkout page on 127.0.0.1."""
    fake = FakeStripe(serve_checkout=True)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def paypal_checkout() -> Iterator[FakePayPal]:
    """A fake PayPal that serves its own approval page on 127.0.0.1."""
    fake = FakePayPal(serve_approval=True)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def crypto_checkout() -> Iterator[FakeNowPayments]:
    """A fake NOWPayments that serves its own invoice page on 127.0.0.1."""
    fake = FakeNowPayments(serve_invoice=True)
    fake.start()
    yield fake
    fake.stop()


def payment_method(panel: Panel, gateway: str, settings: dict[str, str], **limits: str) -> str:
    name = f"{gateway[:6]}-{uuid.uuid4().hex[:6]}"
    with panel.write() as session:
        payment_methods.add_method(
            session, Actor.cli(), name=name, gateway=gateway, panel_secret=panel_secret(panel.db),
            title="Card" if gateway == "stripe" else "Bank transfer", settings=settings,
            limits=payment_methods.Limits(**{k: Decimal(v) for k, v in limits.items()}),
            instructions={"en": "Transfer to IBAN XX00 1234", "ar": "حوّل إلى الحساب XX00 1234"},
        )
    return name


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_adds_funds_with_stripe(
    browser: Browser, fast_panel: Panel, checkout: FakeStripe, lang: str
) -> None:
    panel = fast_panel
    t = Translator(lang)
    name = payment_method(panel, "stripe", {
        "secret_key": checkout.secret_key, "webhook_secret": checkout.webhook_secret,
        "api_base": checkout.url, "timeout": "5"}, fee_percent="3")
    checkout.webhook_url = f"{panel.url}/payments/callback/{name}"
    customer = make_person(panel)
    context = new_context(browser, panel, lang=lang)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, customer)
    page.goto("/funds")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    form = page.locator(f"#pay-{name}")
    form.locator("input[name=amount]").fill("20")
    # The fee and the credit, computed by the server as the customer types.
    expect(form.locator("[data-preview=fee]")).to_have_text(
        formatting.money(Decimal("0.60"), "USD", lang))
    expect(form.locator("[data-preview=credit]")).to_have_text(
        formatting.money(Decimal("19.40"), "USD", lang))
    form.locator("input[name=amount]").fill("0.5")
    expect(form.locator("[data-preview=error]")).not_to_have_text("")
    form.locator("input[name=amount]").fill("20")
    expect(form.locator("[data-preview=error]")).to_have_text("")
    form.locator("button[type=submit]").click()
    # On the gateway's Checkout page (another site), the customer pays.
    expect(page.locator("#checkout-amount")).to_have_text("20.00 USD")
    page.click("#checkout-pay")
    expect(page).to_have_url(re.compile(r"/funds/payments/[\w-]+$"))
    expect(page.locator("#payment-state")).to_have_text(t("Paid"))
    expect(page.locator("#payment-credited")).to_have_text(
        formatting.money(Decimal("19.40"), "USD", lang))
    assert checkout.webhook_answers[-1] == 200
    page.goto("/funds")
    expect(page.locator("#balance")).to_have_text(formatting.money(Decimal("19.40"), "USD", lang))
    expect(page.locator("#payments-table")).to_contain_text(t("Paid"))
    assert errors == []
    context.close()
    assert panel.ledger_mismatches() == []


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_pays_manually_with_a_proof_and_staff_approve(
    browser: Browser, fast_panel: Panel, lang: str, tmp_path: Path
) -> None:
    panel = fast_panel
    t = Translator(lang)
    name = payment_method(panel, "manual", {}, bonus_percent="10")
    customer = make_person(panel)
    staff = make_person(panel, staff=True)
    proof = tmp_path / "receipt.png"
    proof.write_bytes(PNG_PROOF)

    shop = new_context(browser, panel, lang=lang)
    page = shop.new_page()
    errors = watch_errors(page)
    log_in(page, customer)
    page.goto("/funds")
    form = page.locator(f"#pay-{name}")
    expect(form).to_contain_text("XX00 1234")
    form.locator("input[name=amount]").fill("30")
    expect(form.locator("[data-preview=credit]")).to_have_text(
        formatting.money(Decimal("33"), "USD", lang))
    form.locator("input[name=reference]").fill("WIRE-2026-0042")
    form.locator("input[name=proof]").set_input_files(str(proof))
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/funds/payments/[\w-]+$"))
    expect(page.locator("#payment-state")).to_have_text(t("Pending"))
    expect(page.locator("#payment-waiting")).to_be_visible()
    payment_url = page.url

    office = new_context(browser, panel, lang=lang)
    desk = office.new_page()
    desk_errors = watch_errors(desk)
    log_in(desk, staff)
    desk.goto("/admin")
    expect(desk.locator("#payments-waiting")).not_to_have_text("0")
    desk.goto("/admin/payments?state=pending&method=" + name)
    desk.locator("#payments-table a").first.click()
    expect(desk.locator("#payment-facts")).to_contain_text("WIRE-2026-0042")
    expect(desk.locator("#payment-proof")).to_be_visible()
    desk.click("#approve-form button[type=submit]")
    expect(desk.locator(".flash-ok")).to_be_visible()
    expect(desk.locator("#payment-state")).to_have_text(t("Paid"))

    page.goto(payment_url)
    expect(page.locator("#payment-state")).to_have_text(t("Paid"))
    page.goto("/funds")
    expect(page.locator("#balance")).to_have_text(formatting.money(Decimal("33"), "USD", lang))
    # On a phone, the funds and payment pages do not scroll sideways.
    phone = new_context(browser, panel, phone=True, lang=lang)
    small = phone.new_page()
    log_in(small, customer)
    for path in ("/funds", payment_url.removeprefix(panel.url)):
        small.goto(path)
        overflow = small.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, path
    assert errors == []
    assert desk_errors == []
    shop.close()
    office.close()
    phone.close()
    assert panel.ledger_mismatches() == []


# --- screenshots for the README ----------------------------------------------------------------
CATALOG = [
    ("Instagram", "Followers — real accounts", "0.9", 100, 50_000, True),
    ("Instagram", "Likes — instant", "0.35", 50, 20_000, False),
    ("TikTok", "Video views", "0.02", 1000, 1_000_000, False),
    ("YouTube", "Views — high retention", "1.8", 500, 100_000, True),
    # More platforms for the landing page's cards (no orders of theirs below).
    ("Telegram", "Channel members", "0.7", 100, 50_000, False),
    ("Spotify", "Plays — worldwide", "0.45", 1000, 1_000_000, False),
    ("X (Twitter)", "Followers", "1.1", 100, 20_000, True),
]


def _demo_data(panel: Panel) -> tuple[Person, Person, int, int]:
    """A customer with a history, and staff: what the screenshots show."""
    staff = make_person(panel, staff=True, name=f"owner{uuid.uuid4().hex[:4]}")
    customer = make_person(panel, balance="120", name=f"sara{uuid.uuid4().hex[:4]}")
    ids = [
        panel.service(category=category, name=name, rate=rate, min_quantity=low,
                      max_quantity=high, refill=refill, cancel=True,
                      description="Starts within an hour. Refill for 30 days." if refill else "")
        for category, name, rate, low, high, refill in CATALOG
    ]
    with panel.write() as session:
        from opensmm.accounts.service import create_key, get_user_by_id

        api_key = create_key(session, get_user_by_id(session, customer.id), "shop").key
    plan = [(ids[0], 1000, "Completed"), (ids[1], 2000, "Partial"), (ids[2], 50_000, "In progress"),
            (ids[3], 1500, "Pending"), (ids[0], 500, "Canceled"), (ids[1], 800, "Completed"),
            (ids[2], 20_000, "Completed"), (ids[3], 3000, "Processing")]
    order_ids = []
    for number, (service, quantity, status) in enumerate(plan):
        # Placed through the API, as a reseller's script would.
        answer = panel.api(api_key, "add", service=service, quantity=quantity,
                           link=f"https://www.instagram.com/p/demo{number}/")
        order_ids.append(answer["order"])
        if status == "Partial":
            panel.set_order(answer["order"], status=status, start_count=1200, remains=300)
        elif status != "Pending":
            panel.set_order(answer["order"], status=status, start_count=980)
    with panel.write() as session:
        # Spread the history over the last days, so that the charts have something to show.
        for number, order_id in enumerate(order_ids):
            session.execute(update(Order).where(Order.id == order_id).values(
                created_at=utcnow() - timedelta(days=(number * 3) % 14, hours=number)))
    panel.api(api_key, "refill", order=order_ids[0])
    return customer, staff, order_ids[1], ids[0]


def _shoot(page: Page, folder: Path, name: str, lang: str, width: str,
           full_page: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(folder / f"{name}-{lang}-{width}.png"), full_page=full_page)


def test_screenshots_of_the_main_pages(
    browser: Browser, fast_panel: Panel, screenshots: Path
) -> None:
    """Into docs/screenshots with ``pytest --screenshots``, else into a temporary folder."""
    customer, staff, order_id, followers = _demo_data(fast_panel)
    customer_pages = [("dashboard", "/dashboard"), ("new-order", f"/order/new?service={followers}"),
                      ("orders", "/orders"), ("services", "/services"), ("api", "/api")]
    staff_pages = [("staff-dashboard", "/admin"), ("staff-order", f"/admin/orders/{order_id}"),
                   ("staff-users", "/admin/users")]
    phone_pages = {"dashboard", "new-order", "orders", "staff-dashboard", "staff-order"}
    saved = 0
    for lang in ("en", "ar"):
        for width in ("desktop", "phone"):
            context = new_context(browser, fast_panel, phone=width == "phone", lang=lang)
            page = context.new_page()
            errors = watch_errors(page)
            # What a visitor sees first: the landing page, whole.
            page.goto("/")
            expect(page.locator(".platform-card").first).to_be_visible()
            _shoot(page, screenshots, "home", lang, width, full_page=True)
            saved += 1
            for person, pages in ((customer, customer_pages), (staff, staff_pages)):
                log_in(page, person)
                for name, path in pages:
                    if width == "phone" and name not in phone_pages:
                        continue
                    page.goto(path)
                    if name == "dashboard" and width == "phone":
                        # The sidebar folded behind its button, opened.
                        page.locator(".nav-button").click()
                        expect(page.locator("#site-menu")).to_be_visible()
                        _shoot(page, screenshots, "menu", lang, width)
                        saved += 1
                        page.keyboard.press("Escape")
                    if name == "new-order":
                        page.fill("input[name=link]", "https://www.instagram.com/p/demo/")
                        page.fill("input[name=quantity]", "2500")
                        expect(page.locator("#quote-charge")).to_have_text(
                            formatting.money(Decimal("2.25"), "USD", lang))
                    _shoot(page, screenshots, name, lang, width)
                    saved += 1
                page.context.clear_cookies()
                context.add_cookies([{"name": "opensmm_lang", "value": lang,
                                      "url": fast_panel.url}])
            assert errors == []
            context.close()
    # Per language: the landing page twice, the menu once, the pages at their widths.
    assert saved == 2 * (3 + len(customer_pages) + len(staff_pages) + len(phone_pages))
    shots = sorted(screenshots.glob("*.png"))
    assert len(shots) >= saved


def _pay_through_gateway(page: Page, name: str, amount: str) -> None:
    page.goto("/funds")
    form = page.locator(f"#pay-{name}")
    form.locator("input[name=amount]").fill(amount)
    form.locator("button[type=submit]").click()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_adds_funds_with_paypal(
    browser: Browser, fast_panel: Panel, paypal_checkout: FakePayPal, lang: str
) -> None:
    """Approved on PayPal's page, captured by the panel when the customer comes back."""
    panel = fast_panel
    t = Translator(lang)
    fake = paypal_checkout
    name = payment_method(panel, "paypal", {
        "client_id": fake.client_id, "client_secret": fake.client_secret,
        "webhook_id": fake.webhook_id, "api_base": fake.url, "timeout": "5"})
    customer = make_person(panel)
    context = new_context(browser, panel, lang=lang)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, customer)
    _pay_through_gateway(page, name, "25")
    expect(page.locator("#paypal-amount")).to_have_text("25.00 USD")
    page.click("#paypal-approve")
    expect(page).to_have_url(re.compile(r"/funds/payments/[\w-]+$"))
    expect(page.locator("#payment-state")).to_have_text(t("Paid"))
    page.goto("/funds")
    expect(page.locator("#balance")).to_have_text(formatting.money(Decimal("25"), "USD", lang))
    assert errors == []
    context.close()
    assert panel.ledger_mismatches() == []


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_adds_funds_with_crypto(
    browser: Browser, fast_panel: Panel, crypto_checkout: FakeNowPayments, lang: str
) -> None:
    """Paid on NOWPayments' invoice page; its IPN credits the balance."""
    panel = fast_panel
    t = Translator(lang)
    fake = crypto_checkout
    name = payment_method(panel, "nowpayments", {
        "api_key": fake.api_key, "ipn_secret": fake.ipn_secret, "email": fake.email,
        "password": fake.password, "api_base": fake.url, "timeout": "5"})
    customer = make_person(panel)
    context = new_context(browser, panel, lang=lang)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, customer)
    _pay_through_gateway(page, name, "10")
    expect(page.locator("#invoice-amount")).to_contain_text("USD")
    page.click("#invoice-pay")
    expect(page).to_have_url(re.compile(r"/funds/payments/[\w-]+$"))
    expect(page.locator("#payment-state")).to_have_text(t("Paid"))
    assert fake.ipn_answers[-1] == 200
    page.goto("/funds")
    expect(page.locator("#balance")).to_have_text(formatting.money(Decimal("10"), "USD", lang))
    assert errors == []
    context.close()
    assert panel.ledger_mismatches() == []


# --- subscriptions -------------------------------------------------------------------------------
def test_staff_record_posts_and_the_customer_sees_them_in_english_and_arabic(
    browser: Browser, fast_panel: Panel
) -> None:
    """Manual mode: staff record a post on the order page (it becomes a charged order), then
    one the balance cannot pay (the subscription pauses); the customer's Subscriptions page
    shows both, in English and in Arabic, and stops the subscription."""
    from opensmm.accounts.models import User as Account
    from opensmm.orders import service as orders

    staff = make_person(fast_panel, staff=True)
    customer = make_person(fast_panel, balance="0.25")
    service = fast_panel.service(name="Auto likes", type="Subscriptions", rate="2",
                                 min_quantity=10, max_quantity=5000)
    with fast_panel.write() as session:
        account = session.get(Account, customer.id)
        assert account is not None
        sub = orders.place(session, account, {"service": service, "username": "nasa",
                                              "min": "100", "max": "110", "delay": "0"}).id
    context = new_context(browser, fast_panel)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, staff)
    for link in ("https://insta.test/p/1", "https://insta.test/p/2"):
        page.goto(f"/admin/orders/{sub}")
        page.fill("#record-post input[name=link]", link)
        page.click("#record-post button[type=submit]")
        expect(page.locator("#subscription-posts")).to_contain_text(link)
    expect(page.locator("#subscription-posts")).to_contain_text("Unpaid: not enough funds")
    expect(page.locator("h1")).to_contain_text("Paused")
    context.close()

    for lang, waiting, paused in (("en", "Waiting for funds", "Paused"),
                                  ("ar", "بانتظار الرصيد", "متوقف")):
        context = new_context(browser, fast_panel, lang=lang)
        page = context.new_page()
        errors += watch_errors(page)
        log_in(page, customer)
        page.goto("/subscriptions")
        card = page.locator(f"[data-subscription='{sub}']")
        expect(card.locator("[data-post='1']")).to_contain_text("https://insta.test/p/1")
        expect(card.locator("[data-post='2']")).to_contain_text(waiting)
        expect(card.locator("h2 .badge")).to_contain_text(paused)
        if lang == "ar":
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
            expect(page.locator("nav")).to_contain_text("الاشتراكات")
            page.on("dialog", lambda dialog: dialog.accept())
            with page.expect_navigation():
                card.locator("button.danger").click()
        context.close()
    assert fast_panel_status(fast_panel, sub) == "Canceled"
    assert errors == []


def fast_panel_status(panel: Panel, order_id: int) -> str:
    with panel.db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.status
# --- issue 14: the defects found in the browser, and axe-core ------------------------------------
# Drip-feed orders show the total, the quantity per run and the runs; the dashboard counts
# Pending apart from In progress; the sidebar fits beside the page at 1024 px (every link in
# it, the current one marked) and the dashboard table shows Remains; the phone menu button is
# reached with Tab and works with Enter and Space; a new API key shows once after a redirect;
# the staff forms refuse in sentences and check a provider as the CLI does; the staff charts'
# labels are readable and right to left in Arabic. axe-core checks one page of each layout in
# both languages (every kind of page with ``--axe-all``).
SMALL_DESKTOP = {"width": 1024, "height": 768}
MIN_LABEL_PX = 11


@dataclass
class Shop:
    staff: Person
    customer: Person
    drip_order: int
    plain_order: int
    provider_id: int
    drip_service: int


@pytest.fixture(scope="module")
def shop(fast_panel: Panel) -> Shop:
    """A customer with a drip-feed order (100 × 5 runs), a pending and a running order."""
    panel = fast_panel
    staff = make_person(panel, staff=True)
    customer = make_person(panel, balance="50")
    drip = panel.service(name="Drip Likes", category="Instagram", rate="1", min_quantity=10,
                         max_quantity=5000, dripfeed=True, cancel=True)
    plain = panel.service(name="Plain Views", category="TikTok", rate="0.5", min_quantity=10,
                          max_quantity=5000)
    key = _api_key(panel, customer)
    drip_order = panel.api(key, "add", service=drip, link="https://www.instagram.com/p/drip/",
                           quantity=100, runs=5, interval=30)["order"]
    running = panel.api(key, "add", service=plain, link="https://www.tiktok.com/@a/video/1",
                        quantity=1000)["order"]
    panel.set_order(running, status="In progress", start_count=10)
    pending = panel.api(key, "add", service=plain, link="https://www.tiktok.com/@a/video/2",
                        quantity=200)["order"]
    canceled = panel.api(key, "add", service=plain, link="https://www.tiktok.com/@a/video/3",
                         quantity=300)["order"]
    panel.set_order(canceled, status="Canceled")
    with panel.write() as session:
        provider_id = providers_staff.add_provider(
            session, Actor.cli(), f"up{uuid.uuid4().hex[:6]}", "http://127.0.0.1:9/api/v2", "k"
        ).id
    return Shop(staff, customer, drip_order, pending, provider_id, drip)


def _api_key(panel: Panel, person: Person) -> str:
    from opensmm.accounts.models import User
    from opensmm.accounts.service import create_key

    with panel.write() as session:
        user = session.get(User, person.id)
        assert user is not None
        return create_key(session, user, "script").key


# Every kind of page (``--axe-all``), and by default one page of each layout: a form, a list,
# a detail page, the dashboards, the pages the defects were found on. Arabic checks the same
# layouts mirrored.
CUSTOMER_PAGES = ["/dashboard", "/order/new", "/order/mass", "/orders", "/refills", "/services",
                  "/funds", "/affiliates", "/tickets", "/tickets/new", "/news", "/updates",
                  "/account/keys", "/account/password", "/account/2fa", "/api"]
PUBLIC_PAGES = ["/", "/login", "/signup", "/password/forgot"]
AXE_DEFAULT = {
    "en": {"/login", "/signup", "/dashboard", "/order/new", "/orders", "/account/keys", "/admin",
           "/admin/orders", "/admin/orders/{id}", "/admin/services/new", "/admin/emails"},
    "ar": {"/login", "/dashboard", "/order/new", "/admin", "/admin/orders/{id}"},
}


def staff_pages(shop: Shop) -> list[str]:
    return ["/admin", "/admin/users", f"/admin/users/{shop.customer.id}", "/admin/tickets",
            "/admin/canned", "/admin/news", "/admin/services", "/admin/services/new",
            "/admin/categories", "/admin/orders", f"/admin/orders/{shop.drip_order}",
            "/admin/refills", "/admin/providers", f"/admin/providers/{shop.provider_id}",
            "/admin/payments", "/admin/payment-methods", "/admin/payment-methods/new",
            "/admin/ledger", "/admin/audit", "/admin/emails", "/admin/settings",
            "/admin/coupons"]


# What the sidebar holds, for the message when something in it overflows.
SIDEBAR_WIDTHS = """() => {
  const s = document.querySelector('.sidebar');
  return [document.documentElement.lang, s.scrollWidth <= s.clientWidth,
          [...s.querySelectorAll('a, summary, button')].filter(e => e.offsetParent !== null)
            .filter(e => e.scrollWidth > e.clientWidth + 1
                         || e.getBoundingClientRect().right > s.getBoundingClientRect().right + 1
                         || e.getBoundingClientRect().left < s.getBoundingClientRect().left - 1)
            .map(e => [e.textContent.trim().slice(0, 30), e.scrollWidth, e.clientWidth])];
}"""


def sidebar_fits(page: Page) -> None:
    """The signed-in layout on a wide screen: the sidebar at the start of the line (left, or
    right in Arabic), the page beside it without overlap, every link of the sidebar whole
    inside it (none cut off, none sticking out), the page's own link marked current, and
    nothing scrolling sideways."""
    # Measured once the fonts are in: a fallback font's widths differ (seen on a loaded machine).
    page.evaluate("() => document.fonts.ready.then(() => true)")
    width = page.evaluate("document.documentElement.clientWidth")
    rtl = page.evaluate("document.documentElement.dir") == "rtl"
    sidebar, main = page.locator(".sidebar").bounding_box(), page.locator("main").bounding_box()
    assert sidebar is not None and main is not None
    expect(page.locator(".side-nav")).to_be_visible()
    expect(page.locator(".nav-button")).to_be_hidden()
    if rtl:
        assert abs(sidebar["x"] + sidebar["width"] - width) <= 1, sidebar
        assert main["x"] + main["width"] <= sidebar["x"] + 1, (main, sidebar)
    else:
        assert sidebar["x"] <= 1, sidebar
        assert main["x"] >= sidebar["x"] + sidebar["width"] - 1, (main, sidebar)
    assert 180 <= sidebar["width"] <= 260, sidebar
    assert page.evaluate(SIDEBAR_WIDTHS)[1:] == [True, []], page.evaluate(SIDEBAR_WIDTHS)
    # Links keep their words whole: a label may take two lines, never a word broken apart.
    assert page.evaluate("""() => [...document.querySelectorAll('.side-nav a')]
        .every(a => a.getBoundingClientRect().height < 60)""")
    current = page.locator(".sidebar [aria-current=page]")
    expect(current).to_have_count(1)
    no_sideways_scroll(page)


# The elements that stick out of the window, for the message when a page scrolls sideways.
STICKING_OUT = """() => { const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')].filter(e => {
    const box = e.getBoundingClientRect(); return box.right > w + .5 || box.left < -.5; })
    .map(e => [e.tagName, e.className, e.textContent.trim().slice(0, 40)]).slice(-5); }"""


# A figure that spills out of its card (the page itself need not scroll for that): the
# stat cards' amounts, two cards side by side on a phone.
SPILLING = """[...document.querySelectorAll('.stat-value')].filter(v => {
  const box = v.closest('.stat').getBoundingClientRect(), own = v.getBoundingClientRect();
  return own.left < box.left - 1 || own.right > box.right + 1 || v.scrollWidth > v.clientWidth + 1;
}).map(v => v.textContent.trim())"""


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, (page.url, page.evaluate("document.documentElement.lang"),
                           page.evaluate(STICKING_OUT))
    spilling = page.evaluate(SPILLING)
    assert spilling == [], (page.url, page.evaluate("document.documentElement.lang"), spilling)


def sweep(page: Page, paths: list[str], lang: str, everything: bool) -> None:
    """axe-core on the pages (each kind once per language in the session): all of them with
    ``--axe-all``, else those of ``AXE_DEFAULT``."""
    for path in paths:
        if everything or re.sub(r"/\d+(?=/|$)", "/{id}", path) in AXE_DEFAULT[lang]:
            page.goto(path)
            axe.check_once(page)


def test_customer_pages_in_english_and_arabic(
    browser: Browser, fast_panel: Panel, shop: Shop, request: pytest.FixtureRequest
) -> None:
    everything = bool(request.config.getoption("--axe-all"))
    for lang in ("en", "ar"):
        t = Translator(lang)
        context = new_context(browser, fast_panel, lang=lang)
        page = context.new_page()
        page.set_viewport_size(SMALL_DESKTOP)
        errors = watch_errors(page)
        # Log-in page: the Sign up link is underlined, not told apart by its colour only.
        sweep(page, PUBLIC_PAGES, lang, everything)
        page.goto("/login")
        signup = page.locator("main a[href='/signup']")
        assert "underline" in signup.evaluate("a => getComputedStyle(a).textDecorationLine")
        log_in(page, shop.customer)

        # Dashboard at 1024 px: the sidebar beside it, Pending apart from In progress, Remains
        # shown (the whole table beside the sidebar).
        page.goto("/dashboard")
        sidebar_fits(page)
        expect(page.locator(".side-nav a[href='/dashboard']")).to_have_attribute(
            "aria-current", "page")
        expect(page.locator("#orders-pending")).to_have_text("2")
        expect(page.locator("#orders-running")).to_have_text("1")
        wrap = page.locator(".orders-table").locator("xpath=..")
        assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), (
            "the table is cut off", wrap.evaluate("w => [w.scrollWidth, w.clientWidth]"))
        remains = page.locator(".orders-table th").nth(8)
        expect(remains).to_have_text(t("Remains"))
        expect(remains).to_be_in_viewport()
        # Drip-feed: the total (500), the quantity per run and the runs; Remains the total.
        row = page.locator(f"tr[data-order='{shop.drip_order}']")
        per_run = t.ngettext("{quantity} per run × {n} run", "{quantity} per run × {n} runs", 5,
                             quantity=formatting.number(100, lang))
        expect(row.locator(".quantity-total")).to_have_text(formatting.number(500, lang))
        expect(row.locator(".drip-feed")).to_have_text(per_run)
        expect(row.locator("td").nth(8)).to_have_text(formatting.number(500, lang))
        page.goto("/orders")
        expect(page.locator(f"tr[data-order='{shop.drip_order}'] .drip-feed")).to_have_text(per_run)
        # ... and the new-order form says the total beside the price of a drip-feed order.
        page.goto(f"/order/new?service={shop.drip_service}")
        page.fill("input[name=link]", "https://www.instagram.com/p/drip2/")
        page.fill("input[name=quantity]", "100")
        page.check("#dripfeed")
        page.fill("input[name=runs]", "5")
        page.fill("input[name=interval]", "30")
        expect(page.locator("#quote-charge")).to_have_text(
            formatting.money(Decimal("0.50"), "USD", lang))
        expect(page.locator("#quote-quantity")).to_have_text(t(
            "{total} in total: {per_run}", total=formatting.number(500, lang), per_run=per_run))

        # Every link is in the sidebar, in view: Refills is reached from the keyboard, and
        # becomes the current page.
        page.locator(".side-nav a[href='/refills']").focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/refills$"))
        expect(page.locator(".side-nav a[href='/refills']")).to_have_attribute(
            "aria-current", "page")
        # A ticket's page is under Tickets.
        page.goto("/tickets/new")
        expect(page.locator(".side-nav [aria-current=page]")).to_have_attribute("href", "/tickets")

        # A new API key: shown once after a redirect; a refresh creates no other.
        page.goto("/account/keys")
        before = page.locator("tr[data-key]").count()
        page.fill("form[action='/account/keys'] input[name=label]", f"shop-{lang}")
        page.click("form[action='/account/keys'] button[type=submit]")
        expect(page).to_have_url(re.compile(r"/account/keys$"))
        expect(page.locator("#new-key")).to_be_visible()
        page.reload()
        expect(page.locator("#new-key")).to_have_count(0)
        expect(page.locator("tr[data-key]")).to_have_count(before + 1)

        sweep(page, CUSTOMER_PAGES, lang, everything)
        assert errors == []
        context.close()

        # On a phone: Tab reaches the menu button, Enter and Space work it; no sideways scroll.
        phone = new_context(browser, fast_panel, phone=True, lang=lang)
        small = phone.new_page()
        log_in(small, shop.customer)
        small.goto("/dashboard")
        button = small.locator(".nav-button")
        for _ in range(4):  # the brand, the balance, the button
            small.keyboard.press("Tab")
            if button.evaluate("b => b === document.activeElement"):
                break
        assert button.evaluate("b => b === document.activeElement"), "Tab never reached it"
        expect(small.locator(".side-nav")).to_be_hidden()
        small.keyboard.press("Enter")
        expect(small.locator(".side-nav")).to_be_visible()
        expect(button).to_have_attribute("aria-expanded", "true")
        small.keyboard.press(" ")
        expect(small.locator(".side-nav")).to_be_hidden()
        expect(button).to_have_attribute("aria-expanded", "false")
        small.keyboard.press("Enter")
        small.keyboard.press("Tab")
        assert small.evaluate("document.activeElement.closest('#site-menu') !== null")
        # Escape closes it and puts the focus back on the button.
        small.keyboard.press("Escape")
        expect(small.locator(".side-nav")).to_be_hidden()
        assert button.evaluate("b => b === document.activeElement")
        for path in ("/dashboard", "/orders", "/account/keys", "/refills"):
            small.goto(path)
            no_sideways_scroll(small)
        phone.close()


def test_staff_pages_in_english_and_arabic(
    browser: Browser, fast_panel: Panel, shop: Shop, request: pytest.FixtureRequest
) -> None:
    everything = bool(request.config.getoption("--axe-all"))
    for lang in ("en", "ar"):
        t = Translator(lang)
        context = new_context(browser, fast_panel, lang=lang)
        page = context.new_page()
        page.set_viewport_size(SMALL_DESKTOP)
        errors = watch_errors(page)
        log_in(page, shop.staff)
        page.goto("/admin")
        sidebar_fits(page)
        expect(page.locator(".side-nav a[href='/admin/settings']")).to_be_visible()
        expect(page.locator(".side-nav a[href='/admin']")).to_have_attribute(
            "aria-current", "page")

        # Chart labels: 11 px or more on screen; in Arabic on the right of their bars.
        sizes = page.evaluate("""() => [...document.querySelectorAll('svg.chart text')].map(
            t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)""")
        assert sizes and min(sizes) >= MIN_LABEL_PX, sizes
        chart = page.locator(f"svg.chart[aria-label='{t('Orders by status')}']")
        label, bar = chart.locator("text").first, chart.locator("rect").first
        label_box, bar_box = label.bounding_box(), bar.bounding_box()
        assert label_box is not None and bar_box is not None
        if lang == "ar":
            assert label_box["x"] >= bar_box["x"] + bar_box["width"] - 1
        else:
            assert label_box["x"] + label_box["width"] <= bar_box["x"] + 1

        # Drip-feed orders on the staff pages.
        per_run = t.ngettext("{quantity} per run × {n} run", "{quantity} per run × {n} runs", 5,
                             quantity=formatting.number(100, lang))
        page.goto("/admin/orders")
        expect(page.locator(f"tr[data-order='{shop.drip_order}'] .drip-feed")).to_have_text(per_run)
        page.goto(f"/admin/orders/{shop.drip_order}")
        expect(page.locator("#order-quantity .quantity-total")).to_have_text(
            formatting.number(500, lang))

        sweep(page, staff_pages(shop), lang, everything)
        assert errors == []
        # The service form refuses in a sentence (its 400 is the only console line after).
        page.goto("/admin/services/new")
        page.fill("input[name=name]", "Bounds")
        page.fill("input[name=category]", "Instagram")
        page.fill("input[name=rate]", "1")
        page.fill("input[name=min_quantity]", "10")
        page.fill("input[name=max_quantity]", "5")
        page.click("#service-form button[type=submit]")
        expect(page.locator(".flash-error")).to_have_text(t(
            "The maximum quantity ({max}) must not be less than the minimum ({min}).",
            max=5, min=10))
        context.close()


def test_staff_add_a_provider_only_once_it_answers(
    browser: Browser, fast_panel: Panel, shop: Shop
) -> None:
    context = new_context(browser, fast_panel)
    page = context.new_page()
    log_in(page, shop.staff)
    name = f"checked{uuid.uuid4().hex[:6]}"
    with FakePanel(key="right-key") as upstream:
        upstream.on("balance", {"balance": "88.5", "currency": "USD"})
        page.goto("/admin/providers")
        page.fill("#provider-form input[name=name]", name)
        page.fill("#provider-form input[name=url]", upstream.url)
        page.fill("#provider-form input[name=api_key]", "wrong-key")
        page.click("#provider-form button[type=submit]")
        expect(page.locator(".flash-error")).to_contain_text(
            "The provider's balance could not be read")
        expect(page.locator("#provider-form input[name=name]")).to_have_value(name)
        expect(page.locator("main table")).not_to_contain_text(name)
        page.fill("#provider-form input[name=api_key]", "right-key")
        page.click("#provider-form button[type=submit]")
        expect(page.locator(".flash-ok")).to_contain_text(f"Provider {name} added.")
        expect(page.locator("#provider-balance")).to_have_text("88.50 USD")
    context.close()


# --- the sidebar of signed-in customers and staff ------------------------------------------------
# Every language: the longest (ru, pt, es) and Arabic, which puts the sidebar on the right.
ALL_LANGUAGES = ("en", "ar", "ru", "tr", "hi", "pt", "es", "id")
PHONE_LANGUAGES = ("en", "ar", "ru")


def test_the_sidebar_fits_in_every_language(browser: Browser, fast_panel: Panel, shop: Shop
                                            ) -> None:
    """At 1280 and 1024 px, customers' and staff's sidebars hold every link whole, beside
    the page, in all eight languages; visitors keep the top bar."""
    for lang in ALL_LANGUAGES:
        context = new_context(browser, fast_panel, lang=lang)
        page = context.new_page()
        errors = watch_errors(page)
        page.goto("/login")
        expect(page.locator(".topbar")).to_be_visible()
        expect(page.locator(".sidebar")).to_have_count(0)
        for person, paths in ((shop.customer, ["/dashboard", "/orders"]),
                              (shop.staff, ["/admin", f"/admin/orders/{shop.drip_order}"])):
            log_in(page, person)
            for size in (DESKTOP, SMALL_DESKTOP):
                page.set_viewport_size(size)
                for path in paths:
                    page.goto(path)
                    sidebar_fits(page)
            page.context.clear_cookies()
            context.add_cookies([{"name": "opensmm_lang", "value": lang, "url": fast_panel.url}])
        # The section of a staff page is marked: an order's page is under Orders.
        assert page.locator(".sidebar [aria-current=page]").get_attribute("href") == "/admin/orders"
        assert errors == []
        context.close()


def test_the_sidebar_on_a_phone(browser: Browser, fast_panel: Panel, shop: Shop) -> None:
    """At 390 px the sidebar folds behind a menu button: Tab reaches it, Enter opens it,
    its links follow it in the tab order, Escape closes it; no page scrolls sideways, and
    axe-core finds nothing serious with the menu open."""
    customer_paths = ["/dashboard", "/order/new", "/orders", "/services", "/funds",
                      "/subscriptions", "/refills", "/tickets", "/affiliates", "/account/keys",
                      "/account/password", "/api"]
    for lang in PHONE_LANGUAGES:
        phone = new_context(browser, fast_panel, phone=True, lang=lang)
        page = phone.new_page()
        errors = watch_errors(page)
        for person, paths in ((shop.customer, customer_paths), (shop.staff, staff_pages(shop))):
            log_in(page, person)
            for path in paths:
                page.goto(path)
                no_sideways_scroll(page)
            home = paths[0]
            page.goto(home)
            button = page.locator(".nav-button")
            expect(button).to_have_attribute("aria-controls", "site-menu")
            expect(page.locator("#site-menu")).to_be_hidden()
            for _ in range(4):
                page.keyboard.press("Tab")
                if button.evaluate("b => b === document.activeElement"):
                    break
            assert button.evaluate("b => b === document.activeElement"), "Tab never reached it"
            page.keyboard.press("Enter")
            expect(page.locator("#site-menu")).to_be_visible()
            expect(button).to_have_attribute("aria-expanded", "true")
            no_sideways_scroll(page)
            axe.check(page)
            # The links follow the button: Tab goes through the menu to the sign-out button.
            for _ in range(40):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.classList.contains('side-logout')"):
                    break
                assert page.evaluate("document.activeElement.closest('#site-menu') !== null")
            else:
                raise AssertionError("Tab never reached Log out")
            page.keyboard.press("Escape")
            expect(page.locator("#site-menu")).to_be_hidden()
            expect(button).to_have_attribute("aria-expanded", "false")
            assert button.evaluate("b => b === document.activeElement")
            # A link of the menu, chosen from the keyboard, opens its page.
            page.keyboard.press("Enter")
            target = "/tickets" if person is shop.customer else "/admin/users"
            page.locator(f".side-nav a[href='{target}']").focus()
            page.keyboard.press("Enter")
            expect(page).to_have_url(re.compile(f"{target}$"))
            expect(page.locator("#site-menu")).to_be_hidden()
            page.context.clear_cookies()
            phone.add_cookies([{"name": "opensmm_lang", "value": lang, "url": fast_panel.url}])
        assert errors == []
        phone.close()


def test_the_sidebar_without_scripts(browser: Browser, fast_panel: Panel, shop: Shop) -> None:
    """Without JavaScript the phone's menu button could not open anything: the links are
    shown in the page's flow instead, and the page still does not scroll sideways."""
    context = browser.new_context(base_url=fast_panel.url, viewport=PHONE, is_mobile=True,
                                  has_touch=True, java_script_enabled=False)
    page = context.new_page()
    log_in(page, shop.customer)
    page.goto("/orders")
    expect(page.locator(".nav-button")).to_be_hidden()
    expect(page.locator(".side-nav a[href='/refills']")).to_be_visible()
    expect(page.locator("form[action='/logout'] button")).to_be_visible()
    no_sideways_scroll(page)
    menu, main = page.locator("#site-menu").bounding_box(), page.locator("main").bounding_box()
    assert menu is not None and main is not None
    assert menu["y"] + menu["height"] <= main["y"] + 1  # in the flow, above the page
    context.close()
