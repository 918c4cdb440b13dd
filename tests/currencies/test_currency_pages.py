"""Display currencies on one running panel: staff add and change rates on their page (a bad
one refused, nothing changed), a customer chooses EUR and sees prices, the quote and the
balance converted and marked "≈", the panel's currency still beside them and alone where
money is committed; the API's answers do not change by a byte."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.currencies import service as currencies
from tests.support.panel import Panel, running_panel
from tests.web.support import WebClient, make_person


@pytest.fixture(scope="module")
def panel(database_servers: dict) -> Iterator[Panel]:  # type: ignore[type-arg]
    # One panel (SQLite) for the module: the services' tests run on both databases.
    with running_panel(database_servers, "sqlite", "--no-worker") as started:
        yield started


def test_customers_see_approximate_amounts_and_the_api_never_changes(panel: Panel) -> None:
    service_id = panel.service(name="Currency followers", rate="2.5")
    staff = WebClient(panel.url)
    staff.login(make_person(panel, staff=True))
    assert staff.post("/admin/currencies", {"code": "eur", "rate": "0.8"}).status_code == 303
    for bad in ({"code": "EURO", "rate": "1"}, {"code": "GBP", "rate": "-2"},
                {"code": "USD", "rate": "1"}, {"code": "<b>", "rate": "1\x00"}):
        page = staff.post("/admin/currencies", bad)
        assert page.status_code in (400, 422), page.status_code
        assert "flash-error" in page.text and "<b>" not in page.text
    refused = staff.post("/admin/currencies/set", {"code": "EUR", "rate": "1e40"})
    assert refused.status_code in (400, 422)
    assert "0.8" in staff.get("/admin/currencies").text
    assert staff.post("/admin/currencies/set", {"code": "EUR", "rate": "0.92"}).status_code == 303
    listed = staff.get("/admin/currencies").text
    assert 'data-currency="EUR"' in listed and 'value="0.92"' in listed

    person = make_person(panel, balance="10")
    with panel.write() as session:
        key = accounts.create_key(session, session.get(User, person.id)).key
    customer = WebClient(panel.url)
    customer.login(person)
    before = [panel.api(key, action) for action in ("balance", "services")]
    assert "≈" not in customer.get("/dashboard").text

    assert customer.post("/currency", {"currency": "GBP"}).status_code in (400, 404, 422)
    chose = customer.post("/currency", {"currency": "EUR", "back": "/dashboard"})
    assert chose.status_code == 303 and chose.headers["location"] == "/dashboard"
    dashboard = customer.get("/dashboard").text
    assert "$10.00" in dashboard and "≈ €9.20" in dashboard
    services = customer.get("/services").text
    assert "$2.50" in services and "≈ €2.30" in services
    assert '<option value="EUR" selected>' in services
    quote = customer.post("/order/quote", {"service": service_id, "link": "https://x.test/a",
                                           "quantity": "1000"}).json()
    assert quote["shown"] == "$2.50" and quote["approx"] == "≈ €2.30"
    funds = customer.get("/funds").text
    assert "$" in funds  # Add funds stays in the panel's currency (the header shows both)
    arabic = customer.get("/lang/ar?next=/services", follow_redirects=True).text
    assert "≈ \u2066" in arabic  # an isolated left-to-right amount on a right-to-left page

    assert [panel.api(key, action) for action in ("balance", "services")] == before
    assert before[0] == {"balance": "10.00", "currency": "USD"}

    # Removed by staff: the customer sees the panel's currency alone again.
    assert staff.post("/admin/currencies/remove", {"code": "EUR"}).status_code == 303
    assert "≈" not in customer.get("/dashboard").text
    with panel.write() as session:
        assert currencies.listing(session) == []
