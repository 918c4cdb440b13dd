"""The back office over HTTP, on both databases: catalog editing, orders and their
refunds, refills, held orders, providers (a real fake panel on 127.0.0.1), the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from opensmm.audit.models import AuditEntry
from opensmm.catalog.models import Category, Service
from opensmm.fulfillment.states import HELD, NEW, SENT
from opensmm.orders.models import Order
from opensmm.refills.models import Refill
from tests.fakepanel import FakePanel
from tests.support.panel import Panel
from tests.web.support import Person, WebClient, make_person

UPSTREAM_SERVICES = [
    {"service": 101, "name": "Followers HQ", "type": "Default", "category": "Instagram",
     "rate": "0.33333", "min": "10", "max": "5000", "refill": True, "cancel": True},
    {"service": 102, "name": "Comments", "type": "Custom Comments", "category": "Instagram",
     "rate": "4.5", "min": "1", "max": "100", "refill": False, "cancel": False},
    {"service": 103, "name": "Views", "type": "Default", "category": "YouTube",
     "rate": "1", "min": "100", "max": "100000", "refill": False, "cancel": False},
]


@pytest.fixture
def staff(panel: Panel, visitor: WebClient) -> Person:
    person = make_person(panel, staff=True)
    visitor.login(person)
    return person


@pytest.fixture
def upstream() -> Iterator[FakePanel]:
    with FakePanel(key="upstream-key") as fake:
        fake.on("services", UPSTREAM_SERVICES)
        fake.on("balance", {"balance": "321.5", "currency": "USD"})
        yield fake


def audit_actions(panel: Panel, actor: str) -> list[str]:
    with panel.db.read() as session:
        return list(session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor == actor).order_by(AuditEntry.id)
        ))


def service_row(panel: Panel, service_id: int) -> Service:
    with panel.db.read() as session:
        service = session.get(Service, service_id)
        assert service is not None
        return service


def test_services_are_created_edited_switched_and_ordered(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    fields = {"name": "Staff Made", "category": "Staffcat", "type": "Default", "rate": "1.5",
              "min_quantity": "10", "max_quantity": "1000", "refill_days": "30",
              "enabled": "1", "refill": "1", "fulfillment": "simulator"}
    bad = visitor.post("/admin/services/new", {**fields, "min_quantity": "5000"})
    assert bad.status_code == 400
    assert "The maximum quantity (1000) must not be less than the minimum (5000)." in bad.text
    assert 'value="Staff Made"' in bad.text
    assert visitor.post("/admin/services/new", {**fields, "rate": "abc"}).status_code == 400
    made = visitor.post("/admin/services/new", fields)
    created = re.search(r"Service (\d+) created\.", visitor.flash(made))
    assert created
    first = int(created.group(1))
    second_page = visitor.post("/admin/services/new", {**fields, "name": "Second"})
    second_match = re.search(r"Service (\d+) created\.", visitor.flash(second_page))
    assert second_match
    second = int(second_match.group(1))
    assert service_row(panel, first).fulfillment == "simulator"
    edited = visitor.post(f"/admin/services/{first}", {**fields, "rate": "2.25",
                                                       "description": "Now better"})
    assert f"Service {first} saved." in visitor.flash(edited)
    assert (service_row(panel, first).rate, service_row(panel, first).description) == (
        Decimal("2.25"), "Now better")
    visitor.post(f"/admin/services/{first}/enabled", {"enabled": "0"})
    assert service_row(panel, first).enabled is False
    assert f'data-service="{first}"' not in visitor.get("/services").text
    visitor.post(f"/admin/services/{first}/enabled", {"enabled": "1"})
    visitor.post(f"/admin/services/{second}/move", {"step": "up"})
    assert service_row(panel, second).position < service_row(panel, first).position
    listing = visitor.get("/services", params={"q": "Staffcat"}).text
    assert listing.index(f'data-service="{second}"') < listing.index(f'data-service="{first}"')
    actions = audit_actions(panel, staff.name)
    for action in ("service.create", "service.edit", "service.disable", "service.enable",
                   "service.move_up"):
        assert action in actions
    details = visitor.get("/admin/audit", params={"action": "service.edit"}).text
    assert "rate 1.50 → 2.25" in details


def test_categories_are_created_renamed_and_moved(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    visitor.post("/admin/categories", {"name": "Alpha cat"})
    visitor.post("/admin/categories", {"name": "Beta cat"})
    again = visitor.post("/admin/categories", {"name": "Beta cat"})
    assert "already exists" in visitor.flash(again)
    with panel.db.read() as session:
        ids = {c.name: c.id for c in session.scalars(select(Category))}
    visitor.post(f"/admin/categories/{ids['Beta cat']}/rename", {"name": "Gamma cat"})
    visitor.post(f"/admin/categories/{ids['Beta cat']}/move", {"step": "up"})
    page = visitor.get("/admin/categories").text
    assert page.index("Gamma cat") < page.index("Alpha cat")
    assert {"category.create", "category.rename", "category.move_up"} <= set(
        audit_actions(panel, staff.name))


def test_staff_set_status_and_refund_exactly_once(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate="1", refill=True)
    order_id = panel.api(customer.key, "add", service=service, link="https://x.test/s",
                         quantity=1000)["order"]
    detail = visitor.get(f"/admin/orders/{order_id}").text
    assert "Placed for $1.00 (1000 units)" in detail
    partial = {"status": "Partial", "start_count": "50", "remains": "250"}
    answer = visitor.post(f"/admin/orders/{order_id}", partial)
    assert f"Order {order_id} saved." in visitor.flash(answer)
    assert panel.balance(customer) == Decimal("9.25")
    visitor.post(f"/admin/orders/{order_id}", partial)  # the same again: no second refund
    assert panel.balance(customer) == Decimal("9.25")
    wrong = visitor.post(f"/admin/orders/{order_id}", {"status": "Completed", "remains": "x"})
    assert wrong.status_code == 400
    assert "Remains must be a whole number" in wrong.text
    canceled = visitor.post(f"/admin/orders/{order_id}/cancel")
    assert f"Order {order_id} canceled: $0.75 refunded." in visitor.flash(canceled)
    assert panel.balance(customer) == Decimal("10")
    twice = visitor.post(f"/admin/orders/{order_id}/cancel")  # a replay refunds nothing
    assert f"Order {order_id} canceled: $0.00 refunded." in visitor.flash(twice)
    assert panel.balance(customer) == Decimal("10")
    reopen = visitor.post(f"/admin/orders/{order_id}", {"status": "In progress"})
    assert reopen.status_code == 400
    assert "is canceled and refunded" in reopen.text
    history = visitor.get(f"/admin/orders/{order_id}").text
    assert f"staff {staff.name}" in history
    assert "refunded $0.25" in history
    assert audit_actions(panel, staff.name).count("order.update") == 2
    assert panel.ledger_mismatches() == []
    listed = visitor.get("/admin/orders", params={"status": "canceled"}).text
    assert f'data-order="{order_id}"' in listed


def test_staff_work_the_refill_queue(panel: Panel, visitor: WebClient, staff: Person) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate="1", refill=True)
    order_id = panel.api(customer.key, "add", service=service, link="https://x.test/r",
                         quantity=100)["order"]
    panel.set_order(order_id, status="Completed")
    refill_id = int(panel.api(customer.key, "refill", order=order_id)["refill"])
    assert f'data-refill="{refill_id}"' in visitor.get("/admin/refills").text
    visitor.post(f"/admin/refills/{refill_id}", {"status": "Completed", "back": "/admin/refills"})
    assert panel.api(customer.key, "refill_status", refill=refill_id) == {"status": "Completed"}
    bad = visitor.post(f"/admin/refills/{refill_id}", {"status": "Lost"})
    assert "Unknown refill status" in visitor.flash(bad)
    assert "refill.update" in audit_actions(panel, staff.name)
    with panel.db.read() as session:
        assert session.get(Refill, refill_id).status == "Completed"  # type: ignore[union-attr]


def test_a_held_order_is_settled_by_a_person(
    panel: Panel, visitor: WebClient, staff: Person, upstream: FakePanel
) -> None:
    visitor.post("/admin/providers", {"name": "heldprov", "url": upstream.url,
                                      "api_key": "upstream-key"})
    customer = panel.customer(balance="10")
    service = panel.service(rate="1")
    order_ids = [panel.api(customer.key, "add", service=service, link=f"https://x.test/h{n}",
                           quantity=100)["order"] for n in range(2)]
    with panel.write() as session:
        # The state the worker leaves after a call that ended in doubt.
        for order_id in order_ids:
            order = session.get(Order, order_id)
            assert order is not None
            order.send_state, order.held_reason = HELD, "timed out after sending"
    dashboard = visitor.get("/admin").text
    assert "timed out after sending" in dashboard
    detail = visitor.get(f"/admin/orders/{order_ids[0]}").text
    assert "It does not exist: resend" in detail
    visitor.post(f"/admin/orders/{order_ids[0]}/resolve", {"choice": "exists",
                                                           "upstream_id": "777"})
    visitor.post(f"/admin/orders/{order_ids[1]}/resolve", {"choice": "resend"})
    with panel.db.read() as session:
        first, second = (session.get(Order, i) for i in order_ids)
        assert first is not None
        assert second is not None
        assert (first.send_state, first.upstream_id) == (SENT, 777)
        assert second.send_state == NEW
    assert audit_actions(panel, staff.name).count("order.resolve") == 1
    assert audit_actions(panel, staff.name).count("order.resend") == 1
    again = visitor.post(f"/admin/orders/{order_ids[0]}/resolve", {"choice": "resend"})
    assert again.status_code == 400
    assert "is not held" in again.text


def test_providers_are_added_checked_imported_and_synced(
    panel: Panel, visitor: WebClient, staff: Person, upstream: FakePanel
) -> None:
    bad = visitor.post("/admin/providers", {"name": "bad one!", "url": upstream.url,
                                            "api_key": "k"})
    assert bad.status_code == 400
    added = visitor.post("/admin/providers", {"name": "prov1", "url": upstream.url,
                                              "api_key": "upstream-key"})
    location = added.headers["location"]
    assert re.fullmatch(r"/admin/providers/\d+", location)
    balance = visitor.post(f"{location}/balance")
    assert "Balance of prov1: 321.50 USD" in visitor.flash(balance)
    refused = visitor.post(f"{location}/import", {"markup": "-5"})
    assert refused.status_code == 400
    assert "The markup must not be negative" in refused.text
    imported = visitor.post(f"{location}/import", {"markup": "25", "categories": "Instagram"})
    assert imported.status_code == 200
    assert "2 services imported, 0 skipped." in imported.text
    with panel.db.read() as session:
        rates = {s.provider_service_id: s.rate for s in session.scalars(
            select(Service).where(Service.provider_service_id.in_([101, 102, 103])))}
    # 0.33333 × 1.25 = 0.4166625, rounded up: never below cost plus markup.
    assert rates == {101: Decimal("0.41667"), 102: Decimal("5.625")}
    upstream.on("services", [{**UPSTREAM_SERVICES[0], "rate": "0.4"}, UPSTREAM_SERVICES[1]])
    synced = visitor.post(f"{location}/sync")
    assert "Sync done: 1 repriced, 0 changed, 0 disabled." in synced.text
    report = synced.text[synced.text.index('id="sync-report"'):]
    assert "rate 0.41667 -&gt; 0.5" in report[:2000], report[:2000]
    assert upstream.last("services").key == "upstream-key"
    provider_actions = [a for a in audit_actions(panel, staff.name) if a.startswith("provider.")]
    assert provider_actions == ["provider.add", "provider.balance", "provider.import",
                                "provider.sync"]
    page = visitor.get("/admin").text
    assert "321.50 USD" in page


def test_a_provider_that_cannot_be_reached_is_a_clear_message(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    with FakePanel(key="k") as gone:
        url = gone.url
    # Checked before it is added, as ``opensmm provider add`` does: refused, nothing kept.
    added = visitor.post("/admin/providers", {"name": "gone1", "url": url, "api_key": "k"})
    assert added.status_code == 400
    assert "The provider&#39;s balance could not be read" in added.text
    assert 'value="gone1"' in added.text  # the form comes back filled in
    assert "gone1" not in visitor.get("/admin/providers").text.split('id="provider-form"')[0]
    assert not any(a.startswith("provider.") for a in audit_actions(panel, staff.name))


def test_the_dashboard_and_the_ledger_check(panel: Panel, visitor: WebClient, staff: Person
                                            ) -> None:
    customer = panel.customer(balance="5")
    service = panel.service(rate="1")
    panel.api(customer.key, "add", service=service, link="https://x.test/dash", quantity=1000)
    page = visitor.get("/admin").text
    assert '<svg class="chart"' in page
    assert "Orders by status" in page
    check = visitor.get("/admin/ledger", params={"check": "1"}).text
    assert "Every balance equals the sum of its entries." in check
    assert customer.name in visitor.get("/admin/ledger", params={"user": customer.name}).text
    users = visitor.get("/admin/users", params={"q": customer.name}).text
    assert re.search(rf'data-user="{customer.id}"', users)


def test_records_that_do_not_exist_are_a_clear_404(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    for path, message in (("/admin/orders/99999999", "Incorrect order ID"),
                          ("/admin/users/99999999", "User not found"),
                          ("/admin/services/99999999", "Incorrect service ID"),
                          ("/admin/providers/99999999", "Provider not found")):
        answer = visitor.get(path)
        assert answer.status_code == 404, path
        assert message in answer.text, path
    posted = visitor.post("/admin/orders/99999999", {"status": "Completed",
                                                     "back": "/admin/orders"})
    assert posted.status_code == 303
    assert "Incorrect order ID" in visitor.flash(posted)
    assert "Incorrect order ID" in visitor.flash(visitor.post("/admin/orders/99999999/cancel"))


def test_a_held_refill_is_settled_by_a_person(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate="1", refill=True)
    order_id = panel.api(customer.key, "add", service=service, link="https://x.test/hr",
                         quantity=100)["order"]
    panel.set_order(order_id, status="Completed")
    refill_id = int(panel.api(customer.key, "refill", order=order_id)["refill"])
    with panel.write() as session:
        refill = session.get(Refill, refill_id)
        assert refill is not None
        refill.send_state, refill.held_reason = HELD, "connection dropped"
    page = visitor.get("/admin/refills").text
    assert f"/admin/refills/{refill_id}/resolve" in page
    visitor.post(f"/admin/refills/{refill_id}/resolve", {"choice": "exists",
                                                          "upstream_id": "55"})
    with panel.db.read() as session:
        settled = session.get(Refill, refill_id)
        assert settled is not None
        assert (settled.send_state, settled.upstream_id) == (SENT, 55)
    assert "refill.resolve" in audit_actions(panel, staff.name)


@pytest.mark.parametrize("number", ["²", "99999999999"])
def test_odd_numbers_in_staff_filters_and_forms_are_no_server_error(
    panel: Panel, visitor: WebClient, staff: Person, number: str
) -> None:
    listed = visitor.get("/admin/orders", params={"user": number, "service": number})
    assert listed.status_code == 200, listed.text[:300]
    fields = {"name": "Odd Numbers", "category": "Oddcat", "type": "Default", "rate": "1",
              "min_quantity": number, "max_quantity": "1000", "refill_days": "30"}
    refused = visitor.post("/admin/services/new", fields)
    assert refused.status_code == 400, refused.text[:300]
    with panel.db.read() as session:
        assert session.scalar(select(Service.id).where(Service.name == "Odd Numbers")) is None


def test_staff_manage_a_services_routes_and_see_an_orders_upstream_charge(
    panel: Panel, visitor: WebClient, staff: Person
) -> None:
    from opensmm.catalog import routes
    from opensmm.providers.models import Provider
    from tests.fulfillment import helpers as h

    down = "http://127.0.0.1:9/api/v2"
    first, other = h.provider(panel.db, down), h.provider(panel.db, down)
    with panel.db.write() as session:  # the panel's worker never sends these orders
        session.execute(update(Provider).where(Provider.id == first).values(enabled=False))
        found = session.get(Provider, other)
        assert found is not None
        other_name = found.name
    service_id = h.provider_service(panel.db, first, 11, provider_rate=Decimal("0.5"),
                                    rate=Decimal("1"))
    page = f"/admin/services/{service_id}"
    added = visitor.post(f"{page}/routes", {"provider_id": other, "provider_service_id": "22",
                                            "cost": "0.7"})
    assert "Route 2 added." in visitor.flash(added)
    for bad, message in (({"provider_id": "x"}, "Choose a provider"),
                         ({"provider_service_id": "abc"}, "must be a whole number"),
                         ({"provider_service_id": "0"}, "positive whole number"),
                         ({"cost": "-1"}, "cost"),
                         ({"provider_service_id": "22"}, "already has this route")):
        fields = {"provider_id": other, "provider_service_id": "23", "cost": "1", **bad}
        refused = visitor.post(f"{page}/routes", fields)
        assert refused.status_code == 400 and message in refused.text, (bad, refused.text[:300])
    with panel.db.read() as session:
        first_route, second_route = routes.list_routes(session, service_id)
    visitor.post(f"{page}/routes/{second_route.id}/move", {"position": "1"})
    assert visitor.post(f"{page}/routes/{second_route.id}/move",
                        {"position": "9"}).status_code == 400
    table = visitor.get(page).text
    assert table.index(other_name) < table.index(f"/admin/providers/{first}\"")
    assert service_row(panel, service_id).provider_id == other
    removed = visitor.post(f"{page}/routes/{first_route.id}/remove")
    assert "Route removed." in visitor.flash(removed)
    assert visitor.post(f"{page}/routes/{second_route.id}/remove").status_code == 400
    assert audit_actions(panel, staff.name)[-3:] == [
        "service.route_add", "service.route_move", "service.route_remove"
    ]

    customer = panel.customer(balance="10")
    order_id = panel.api(customer.key, "add", service=service_id, link="https://x.test/r",
                         quantity=1000)["order"]
    with panel.db.write() as session:
        session.execute(update(Provider).where(Provider.id == other).values(enabled=False))
        session.execute(update(Order).where(Order.id == order_id).values(
            upstream_charge=Decimal("0.7123"), upstream_estimated=False))
    detail = visitor.get(f"/admin/orders/{order_id}").text
    assert re.search(r'id="order-route">route 1 · provider service 22<', detail)
    assert re.search(r'id="upstream-charge">\$0\.7123<', detail)
    assert re.search(r'id="order-profit">\$0\.2877<', detail)
    arabic = WebClient(panel.url, **{"Accept-Language": "ar"})
    try:
        arabic.login(staff)
        assert "المسارات" in arabic.get(page).text and "إضافة مسار" in arabic.get(page).text
        shown = arabic.get(f"/admin/orders/{order_id}").text
        assert "تكلفة المزوّد" in shown and "المسار 1" in shown
    finally:
        arabic.close()
