"""The customer pages over HTTP, on both databases: sign-up, the order form with the API's
own validation, mass orders, the order list, refills, cancels, keys, the API page."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from opensmm.accounts.models import User
from opensmm.orders.models import Order
from tests.support.panel import Panel
from tests.web.support import PASSWORD, WebClient, make_person


def orders_of(panel: Panel, user_id: int) -> list[Order]:
    with panel.db.read() as session:
        return list(session.scalars(select(Order).where(Order.user_id == user_id)))


def test_sign_up_then_log_out_and_in_again(panel: Panel, visitor: WebClient) -> None:
    name = "new" + re.sub(r"\W", "", panel.url)[-6:]
    mismatch = visitor.post("/signup", {"name": name, "email": f"{name}@x.test",
                                        "password": "long enough", "password2": "not the same"})
    assert mismatch.status_code == 400
    assert "The two passwords do not match" in mismatch.text
    assert f'value="{name}"' in mismatch.text  # what was typed is kept
    made = visitor.post("/signup", {"name": name, "email": f"{name}@x.test",
                                    "password": "long enough", "password2": "long enough"})
    assert made.headers["location"] == "/dashboard"
    assert f"Welcome, {name}!" in visitor.flash(made)
    taken = WebClient(panel.url)
    try:
        again = taken.post("/signup", {"name": name, "email": "other@x.test",
                                       "password": "long enough", "password2": "long enough"})
        assert f"The user name {name!r} is taken" in html.unescape(again.text)
    finally:
        taken.close()
    visitor.post("/logout")
    assert visitor.get("/dashboard").status_code == 303
    by_email = visitor.post("/login", {"login": f"{name}@x.test", "password": "long enough"})
    assert by_email.headers["location"] == "/dashboard"
    with panel.db.read() as session:
        user = session.scalar(select(User).where(User.name == name))
        assert user is not None
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")


def test_the_order_form_gives_the_apis_own_refusals(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="1")
    service = panel.service(rate="2", min_quantity=50, max_quantity=1000)
    visitor.login(customer)
    form = visitor.get("/order/new", params={"service": service})
    assert form.status_code == 200
    assert f'<option value="{service}" selected' in form.text
    api_customer = panel.customer(balance="1")
    for fields, message in (
        ({"link": "https://x.test/a", "quantity": "10"}, "Quantity less than minimal 50"),
        ({"link": "https://x.test/a", "quantity": "5000"}, "Quantity more than maximal 1000"),
        ({"link": "javascript:alert(1)", "quantity": "100"}, "Incorrect link"),
        ({"link": "https://x.test/a", "quantity": "900"}, "Not enough funds on balance"),
    ):
        assert panel.api(api_customer.key, "add", service=service, **fields) == {"error": message}
        answer = visitor.post("/order/new", {"service": service, **fields})
        assert answer.status_code == 400
        assert message in answer.text
        assert f'value="{fields["link"]}"' in answer.text or "javascript" in fields["link"]
        quote = visitor.post("/order/quote", {"service": service, **fields}).json()
        assert message in (quote.get("error"), quote.get("note"))
    assert orders_of(panel, customer.id) == []
    assert panel.balance(customer) == 1


def test_an_order_from_the_form_is_charged_and_listed(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="10")
    service = panel.service(rate="0.9", dripfeed=True)
    visitor.login(customer)
    quote = visitor.post("/order/quote", {"service": service, "link": "https://x.test/p",
                                          "quantity": "100", "dripfeed": "1", "runs": "3",
                                          "interval": "10"}).json()
    assert quote == {"charge": "0.27", "shown": "$0.27", "units": 300, "rate": "0.90",
                     "enough": True, "note": "",
                     "quantity_note": "300 in total: 100 per run × 3 runs", "approx": ""}
    placed = visitor.post("/order/new", {"service": service, "link": "https://x.test/p",
                                         "quantity": "100", "dripfeed": "1", "runs": "3",
                                         "interval": "10", "category": "Instagram"})
    [order] = orders_of(panel, customer.id)
    assert (order.units, order.runs, order.interval, order.charge) == (300, 3, 10, Decimal("0.27"))
    assert f"Order {order.id} placed: $0.27 charged." in visitor.flash(placed)
    assert panel.balance(customer) == Decimal("9.73")
    listed = visitor.get("/orders").text
    assert f'data-order="{order.id}"' in listed
    assert "https://x.test/p" in listed
    # Without the drip-feed box ticked, runs and interval are not sent.
    visitor.post("/order/new", {"service": service, "link": "https://x.test/q",
                                "quantity": "100", "runs": "3", "interval": "10"})
    assert sorted(o.units for o in orders_of(panel, customer.id)) == [100, 300]
    assert panel.ledger_mismatches() == []


def test_fields_of_other_service_types(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="10")
    comments = panel.service(type="Custom Comments", rate="10", min_quantity=1, max_quantity=50)
    visitor.login(customer)
    form = visitor.get("/order/new", params={"service": comments}).text
    assert '"fields": ["link", "comments"]' in form
    missing = visitor.post("/order/new", {"service": comments, "link": "https://x.test/c"})
    assert "Comments are required for this service" in missing.text
    placed = visitor.post("/order/new", {"service": comments, "link": "https://x.test/c",
                                         "comments": "nice\n\ngreat\nwow"})
    assert placed.status_code == 303
    [order] = orders_of(panel, customer.id)
    assert (order.units, order.charge) == (3, Decimal("0.03"))


def test_a_mass_order_accepts_and_refuses_line_by_line(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="1")
    service = panel.service(rate="1", min_quantity=10, max_quantity=1000)
    visitor.login(customer)
    text = "\n".join([
        f"{service} | https://x.test/1 | 100",
        f"{service} | https://x.test/2 | 5",
        "999999 | https://x.test/3 | 100",
        "just words",
        f"{service} | https://x.test/4 | 950",
        f" {service} |https://x.test/5| 200 ",
    ])
    page = visitor.post("/order/mass", {"orders": text})
    assert page.status_code == 200
    rows = re.findall(r'<tr class="(accepted|refused)">', page.text)
    assert rows == ["accepted", "refused", "refused", "refused", "refused", "accepted"]
    for message in ("Quantity less than minimal 10", "Incorrect service ID",
                    "Each line is: service | link | quantity", "Not enough funds on balance"):
        assert message in page.text
    assert sorted(o.link for o in orders_of(panel, customer.id)) == ["https://x.test/1",
                                                                    "https://x.test/5"]
    assert panel.balance(customer) == Decimal("0.7")


def test_orders_filter_search_and_pages(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="100")
    service = panel.service(rate="1")
    visitor.login(customer)
    for number in range(27):
        visitor.post("/order/new", {"service": service, "link": f"https://x.test/n{number}",
                                    "quantity": "10"})
    ids = sorted(o.id for o in orders_of(panel, customer.id))
    panel.set_order(ids[0], status="Completed")
    first = visitor.get("/orders").text
    assert first.count("data-order=") == 25
    assert "Page 1 of 2" in first
    second = visitor.get("/orders", params={"page": "2"}).text
    assert second.count("data-order=") == 2
    done = visitor.get("/orders", params={"status": "completed"}).text
    assert re.findall(r'data-order="(\d+)"', done) == [str(ids[0])]
    by_id = visitor.get("/orders", params={"q": str(ids[3])}).text
    assert re.findall(r'data-order="(\d+)"', by_id) == [str(ids[3])]
    by_link = visitor.get("/orders", params={"q": "x.test/n2"}).text
    assert len(re.findall(r'data-order="(\d+)"', by_link)) == 1 + 7  # n2, n20..n26
    odd = visitor.get("/orders", params={"page": "-5", "status": "nonsense", "q": "%_"})
    assert odd.status_code == 200


def test_refill_and_cancel_where_the_service_allows(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="10")
    refillable = panel.service(rate="1", refill=True, cancel=True)
    visitor.login(customer)
    for link in ("https://x.test/done", "https://x.test/wait"):
        visitor.post("/order/new", {"service": refillable, "link": link, "quantity": "100"})
    done, waiting = sorted(orders_of(panel, customer.id), key=lambda o: o.id)
    panel.set_order(done.id, status="Completed")
    page = visitor.get("/orders").text
    assert f"/orders/{done.id}/refill" in page
    assert f"/orders/{done.id}/cancel" not in page
    assert f"/orders/{waiting.id}/cancel" in page
    assert f"/orders/{waiting.id}/refill" not in page
    refill = visitor.post(f"/orders/{done.id}/refill", {"back": "/orders"})
    assert re.search(rf"Refill \d+ requested for order {done.id}\.", visitor.flash(refill))
    twice = visitor.post(f"/orders/{done.id}/refill", {"back": "/orders"})
    assert "A refill for this order is already in progress" in visitor.flash(twice)
    assert f"<td class=\"num\">{done.id}</td>" in visitor.get("/refills").text
    cancel = visitor.post(f"/orders/{waiting.id}/cancel", {"back": "/orders"})
    assert f"Order {waiting.id} canceled: $0.10 refunded." in visitor.flash(cancel)
    assert panel.balance(customer) == Decimal("9.9")


def test_api_keys_are_shown_once_and_revoked(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="4.2")
    visitor.login(customer)
    created = visitor.post("/account/keys", {"label": "shop"})
    # POST-redirect-GET: the form answers with a redirect, the key is on the page it leads to.
    assert created.status_code == 303
    assert created.headers["location"] == "/account/keys"
    shown = visitor.get("/account/keys").text
    key = re.search(r'<code class="key" id="new-key" dir="ltr">([A-Za-z0-9]+)</code>', shown)
    assert key
    assert panel.api(key.group(1), "balance") == {"balance": "4.20", "currency": "USD"}
    # A refresh neither shows the key again nor creates another.
    listing = visitor.get("/account/keys").text
    assert key.group(1) not in listing
    assert len(re.findall(r'<tr data-key="', listing)) == 1
    assert key.group(1)[:6] in listing
    key_id = re.search(r'data-key="(\d+)"', listing)
    assert key_id
    visitor.post(f"/account/keys/{key_id.group(1)}/revoke")
    assert panel.api(key.group(1), "balance") == {"error": "Invalid API key"}


def test_the_api_page_uses_the_live_catalog(panel: Panel, visitor: WebClient) -> None:
    service = panel.service(name="Live Likes", rate="3", min_quantity=20)
    page = visitor.get("/api").text
    for action in ("services", "add", "status", "refill", "refill_status", "cancel", "balance"):
        assert f'<code dir="ltr">{action}</code>' in page
    assert f"{panel.url}/api/v2" in page
    assert 'data-code="curl"' in page
    assert 'data-code="php"' in page
    assert 'data-code="python"' in page
    first_service = re.search(r"service=(\d+)", page)
    assert first_service
    assert int(first_service.group(1)) <= service
    assert "curl_setopt" in page
    assert "requests.post" in page


def test_services_are_listed_by_category_and_searchable(
    panel: Panel, visitor: WebClient
) -> None:
    panel.service(name="Searchable Views", category="Tube", rate="1.5")
    hidden = panel.service(name="Hidden Thing", category="Tube", enabled=False)
    page = visitor.get("/services", params={"q": "searchable"}).text
    assert "Searchable Views" in page
    # The category's title, after its (generic: no platform in "Tube") icon.
    assert re.search(r'<h2 class="category-title"><svg [^>]*aria-hidden="true".*?#generic"'
                     r"></use></svg> <span>Tube</span></h2>", page)
    assert f'data-service="{hidden}"' not in visitor.get("/services").text


def test_a_discount_lowers_the_rate_shown_and_charged(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel, balance="10")
    service = panel.service(name="Discounted", rate="2")
    staff = WebClient(panel.url)
    try:
        staff.login(make_person(panel, staff=True))
        staff.post(f"/admin/users/{customer.id}/discount", {"discount": "25"})
    finally:
        staff.close()
    visitor.login(customer)
    quote = visitor.post("/order/quote", {"service": service, "link": "https://x.test/d",
                                          "quantity": "1000"}).json()
    assert (quote["rate"], quote["charge"]) == ("1.50", "1.50")
    assert "Your discount: 25.00%" in visitor.get("/dashboard").text


def test_pages_answer_errors_without_tracebacks(panel: Panel, visitor: WebClient) -> None:
    visitor.login(make_person(panel))
    assert visitor.get("/no/such/page").status_code == 404
    assert visitor.http.put("/orders").status_code == 405
    huge = visitor.post("/order/mass", {"orders": "x" * 1_100_000})
    assert huge.status_code == 400
    for answer in (visitor.get("/no/such/page"), huge):
        assert "Traceback" not in answer.text
    assert PASSWORD not in visitor.get("/dashboard").text


@pytest.mark.parametrize("number", ["²", "١٢", "99999999999"])
def test_odd_numbers_in_search_pages_and_quotes_are_no_server_error(
    panel: Panel, visitor: WebClient, number: str
) -> None:
    """Digits that are not ASCII ("²" passes str.isdigit, then int() fails) and ids beyond
    the 32-bit id column (PostgreSQL refuses to compare them) are ordinary bad input."""
    customer = make_person(panel, balance="5")
    visitor.login(customer)
    for params in ({"q": number}, {"q": f"#{number}"}, {"page": number}):
        answer = visitor.get("/orders", params=params)
        assert answer.status_code == 200, (params, answer.text[:300])
        assert "data-order=" not in answer.text
    quote = visitor.post("/order/quote", {"service": number, "link": "https://x.test/q",
                                          "quantity": "100"})
    assert quote.status_code != 500
    assert quote.json().get("error") == "Incorrect service ID"
    assert orders_of(panel, customer.id) == []
