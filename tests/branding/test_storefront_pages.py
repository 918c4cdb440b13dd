"""The storefront on one running panel: the landing page's platforms with their live counts
and starting prices (disabled services and emptied categories left out, the cheapest rate),
a visitor's display currency ("≈", a cookie, only when staff offer one), the New order
search without scripts (?q=), the staff's platform choice (a hostile value refused, nothing
changed)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from opensmm.audit.models import AuditEntry
from opensmm.catalog.models import Category, Service
from opensmm.currencies.models import DisplayCurrency
from opensmm.db import utcnow
from tests.support.panel import Panel, running_panel
from tests.web.support import WebClient, make_person


@pytest.fixture(scope="module")
def panel(database_servers: dict) -> Iterator[Panel]:  # type: ignore[type-arg]
    # Its own panel: the landing page counts the whole catalog.
    with running_panel(database_servers, "sqlite", "--no-worker") as started:
        yield started


def card(page: str, name: str) -> str:
    """The text of one platform's card on the landing page."""
    found = re.search(r'<a class="platform-card"[^>]*>(?:(?!</a>).)*?' + re.escape(name)
                      + r"(?:(?!</a>).)*</a>", page, re.S)
    assert found, f"no card for {name}"
    return re.sub(r"<[^>]+>", " ", found.group(0))


def test_landing_page_sells_the_platforms_with_counts_and_starting_prices(panel: Panel) -> None:
    panel.service(name="IG cheap", category="Instagram Followers", rate="0.12")
    panel.service(name="IG dear", category="Instagram Likes", rate="0.90")
    off = panel.service(name="IG off", category="Instagram Likes", rate="0.01")
    panel.service(name="TT views", category="TikTok Views", rate="0.05")
    gone = panel.service(name="YT only", category="YouTube Views", rate="1.00")
    with panel.write() as session:
        session.execute(update(Service).where(Service.id.in_([off, gone])).values(enabled=False))

    visitor = WebClient(panel.url)
    page = visitor.get("/").text
    instagram = card(page, "Instagram")
    assert "2 services" in instagram and "from $0.12 per 1000" in instagram
    assert "$0.01" not in page  # the disabled service's rate
    assert "1 service" in card(page, "TikTok") and "from $0.05 per 1000" in card(page, "TikTok")
    assert "YouTube" not in page  # a category whose services are all off is not offered
    assert 'href="/services?platform=instagram"' in page
    assert 'href="/signup"' in page and "≈" not in page
    assert 'id="currency-choice"' not in page  # no display currency offered: no switcher
    assert "/static/platforms/sprite.svg" in page and 'aria-hidden="true"' in page

    # Its link lists that platform's services only.
    listed = visitor.get("/services?platform=instagram").text
    assert "IG cheap" in listed and "IG dear" in listed and "TT views" not in listed
    assert visitor.get("/services?platform=<script>").status_code == 200

    # Signups closed by staff: no sign-up call to action.
    panel.cli("settings", "set", "signups", "closed")
    try:
        assert 'href="/signup"' not in WebClient(panel.url).get("/").text
    finally:
        panel.cli("settings", "set", "signups", "open")

    # A visitor picks a display currency: the prices are converted and marked approximate.
    with panel.write() as session:
        session.add(DisplayCurrency(code="EUR", rate="0.5", source="typed", updated_at=utcnow()))
    page = visitor.get("/").text
    assert 'id="currency-choice"' in page and '<option value="EUR">' in page
    assert visitor.post("/currency", {"currency": "GBP"}).status_code in (400, 404, 422)
    chose = visitor.post("/currency", {"currency": "EUR", "back": "/"})
    assert chose.status_code == 303 and chose.headers["location"] == "/"
    page = visitor.get("/").text
    assert "from $0.12 per 1000" in card(page, "Instagram")
    assert "≈ €0.06" in card(page, "Instagram") and '<option value="EUR" selected>' in page
    assert "≈ €" not in WebClient(panel.url).get("/").text  # another visitor: not theirs
    assert visitor.post("/currency", {"currency": "USD", "back": "/"}).status_code == 303
    assert "≈" not in visitor.get("/").text
    # A forged cookie (not offered, not a code at all) converts nothing and breaks nothing.
    for forged in ("GBP", "eur", "<script>", "EU1", "x" * 400):
        forger = WebClient(panel.url)
        forger.http.cookies.set("opensmm_currency", forged)
        page = forger.get("/")
        assert page.status_code == 200 and "≈" not in page.text, forged
        assert forged not in page.text or forged == "eur", forged  # never echoed back


def test_new_order_search_works_without_scripts(panel: Panel) -> None:
    wanted = panel.service(name="Searchable zebra likes", category="Instagram Likes",
                           rate="0.40")
    panel.service(name="Other giraffe views", category="TikTok Views", rate="0.40")
    customer = WebClient(panel.url)
    customer.login(make_person(panel, balance="5"))
    page = customer.get("/order/new?q=ZEBRA").text
    picker = page[page.index('<select name="service"'):]
    options = re.findall(r'<option value="(\d+)"', picker[:picker.index("</select>")])
    assert options == [str(wanted)]
    assert 'id="order-search"' in page and "1 service" in page
    assert re.search(r'<label for="order-search"', page)
    by_id = customer.get(f"/order/new?q={wanted}").text
    assert f'<option value="{wanted}" selected>' in by_id
    nothing = customer.get("/order/new?q=%00nothing-like-this").text
    assert "No service matches." in nothing and 'id="order-form"' not in nothing
    assert "giraffe" in customer.get("/order/new").text


def test_staff_choose_a_category_platform_and_a_hostile_one_changes_nothing(
    panel: Panel,
) -> None:
    panel.service(name="Traffic", category="Website Traffic", rate="0.30")
    with panel.write() as session:
        category_id = session.scalar(
            select(Category.id).where(Category.name == "Website Traffic"))
    staff = WebClient(panel.url)
    staff.login(make_person(panel, staff=True))
    listed = staff.get("/admin/categories").text
    assert f'action="/admin/categories/{category_id}/platform"' in listed
    for hostile in ("myspace", "<script>alert(1)</script>", "generic", "x" * 5000, "none\x00x"):
        refused = staff.post(f"/admin/categories/{category_id}/platform", {"platform": hostile})
        assert refused.status_code in (400, 422), (hostile[:20], refused.status_code)
        assert "flash-error" in refused.text and "Unknown platform" in refused.text
        assert "<script>alert" not in refused.text
    with panel.write() as session:
        assert session.get(Category, category_id).platform == ""  # type: ignore[union-attr]

    saved = staff.post(f"/admin/categories/{category_id}/platform", {"platform": "google"})
    assert saved.status_code == 303
    with panel.write() as session:
        assert session.get(Category, category_id).platform == "google"  # type: ignore[union-attr]
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None and entry.action == "category.platform"
        assert entry.params["before"] == "auto" and entry.params["after"] == "google"
    assert 'href="/services?platform=google"' in WebClient(panel.url).get("/").text
    # A customer may not.
    customer = WebClient(panel.url)
    customer.login(make_person(panel))
    assert customer.post(f"/admin/categories/{category_id}/platform",
                         {"platform": "none"}).status_code == 403
