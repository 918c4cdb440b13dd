"""Scorecards and auto-refill on the pages: the staff ranking page, the auto-refill form on
a service's page, and the average time on the customer's Services and New order pages, over
HTTP and in Chromium, in English and Arabic.

One running panel, on SQLite (a panel costs about 20 s to start): the figures and the
ranking these pages show are tested on both databases in tests/fulfillment/test_scorecards.py.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import update

from opensmm.catalog import service as catalog
from opensmm.catalog.models import Service
from opensmm.db import utcnow
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.providers import service as providers
from opensmm.scorecards import service as scorecards
from tests.support.databases import PostgresServer, SqliteFiles
from tests.support.panel import Panel, running_panel
from tests.web.support import Person, WebClient, make_person
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, log_in, new_context, watch_errors

# Minutes per 1000 units of the crafted Completed orders of each service.
FAST_MINUTES = 135  # 2 hours 15 minutes
SLOW_MINUTES = 60 * 24 + 180  # 1 day 3 hours


@pytest.fixture(scope="module")
def panel(database_servers: dict[str, PostgresServer | SqliteFiles]) -> Iterator[Panel]:
    with running_panel(database_servers, "sqlite") as running:
        yield running


@pytest.fixture(scope="module")
def buyer(panel: Panel) -> Person:
    return make_person(panel, balance=10)


@pytest.fixture(scope="module")
def world(panel: Panel) -> dict[str, int]:
    """Two providers and two services with crafted finished orders, scorecards refreshed."""
    now = utcnow()
    tag = uuid.uuid4().hex[:6]
    with panel.write() as session:
        good = providers.add_provider(session, f"good{tag}", "http://127.0.0.1:9/api/v2", "k")
        bad = providers.add_provider(session, f"bad{tag}", "http://127.0.0.1:9/api/v2", "k")
        fast = catalog.add_service(session, name=f"Fast likes {tag}", category=f"Cat {tag}",
                                   rate=Decimal(1), min_quantity=10, max_quantity=10_000,
                                   refill=True, refill_days=30)
        slow = catalog.add_service(session, name=f"Slow views {tag}", category=f"Cat {tag}",
                                   rate=Decimal(2), min_quantity=10, max_quantity=10_000)
        ids = {"good": good.id, "bad": bad.id, "fast": fast.id, "slow": slow.id}
    plan = [("fast", "good", st.COMPLETED, FAST_MINUTES)] * 3 + [
        ("slow", "bad", st.COMPLETED, SLOW_MINUTES), ("slow", "bad", st.CANCELED, 10)]
    key = panel.customer(10).key
    for service_key, provider_key, status, minutes in plan:
        order_id = panel.api(key, "add", service=ids[service_key],
                             link="https://x.test/p", quantity=1000)["order"]
        with panel.write() as session:
            session.execute(update(Order).where(Order.id == order_id).values(
                status=status, provider_id=ids[provider_key], remains=0,
                created_at=now - timedelta(minutes=minutes + 60),
                finished_at=now - timedelta(minutes=60)))
    scorecards.refresh(panel.db)
    return ids


@pytest.fixture
def staff(panel: Panel, visitor: WebClient) -> Person:
    person = make_person(panel, staff=True)
    visitor.login(person)
    return person


def test_staff_rank_providers_and_set_auto_refill(panel: Panel, visitor: WebClient,
                                                  staff: Person, buyer: Person,
                                                  world: dict[str, int]) -> None:
    page = visitor.get("/admin/scorecards")
    assert page.status_code == 200
    text = html.unescape(page.text)
    good, bad = f'data-provider="{world["good"]}"', f'data-provider="{world["bad"]}"'
    assert text.index(good) < text.index(bad)  # no partial nor cancel beats 50 % canceled
    row = text[text.index(bad):].split("</tr>")[0]
    assert "50.0%" in row
    assert "2 hours 15 minutes" in text and "1 day 3 hours" in text

    fast = world["fast"]
    answer = visitor.post(f"/admin/services/{fast}/auto-refill", {"every_days": "7"})
    assert "Service" in visitor.flash(answer)
    with panel.db.read() as session:
        assert session.get(Service, fast).auto_refill_days == 7  # type: ignore[union-attr]
    refused = visitor.post(f"/admin/services/{fast}/auto-refill", {"every_days": "31"})
    assert "from 1 to the refill days (30)" in html.unescape(visitor.flash(refused))
    with panel.db.read() as session:
        assert session.get(Service, fast).auto_refill_days == 7  # type: ignore[union-attr]
    visitor.post(f"/admin/services/{fast}/auto-refill", {"off": "1"})
    with panel.db.read() as session:
        assert session.get(Service, fast).auto_refill_days is None  # type: ignore[union-attr]

    customer = WebClient(panel.url)
    try:
        customer.login(buyer)
        assert customer.get("/admin/scorecards").status_code == 403
    finally:
        customer.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.browser
def test_services_and_new_order_show_the_average_time(browser: Browser, panel: Panel,
                                                      buyer: Person,
                                                      world: dict[str, int]) -> None:
    for lang, fast_time, slow_time in (("en", "2 hours 15 minutes", "1 day 3 hours"),
                                       ("ar", "ساعتان و15 دقيقة", "يوم واحد و3 ساعات")):
        context = new_context(browser, panel, lang=lang)
        page = context.new_page()
        errors = watch_errors(page)
        page.goto("/services")
        expect(page.locator(f"tr[data-service='{world['fast']}'] .avg-time")).to_have_text(
            fast_time)
        expect(page.locator(f"tr[data-service='{world['slow']}'] .avg-time")).to_have_text(
            slow_time)
        log_in(page, buyer)
        page.goto(f"/order/new?service={world['fast']}")
        expect(page.locator("#service-avg")).to_have_text(fast_time)
        page.select_option("#service", str(world["slow"]))
        expect(page.locator("#service-avg")).to_have_text(slow_time)
        assert errors == []
        context.close()
