"""Spec §3: every service type's ``add`` fields, the units it charges, and the exact charge."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select

from opensmm.audit.actor import Actor as StaffActor
from opensmm.catalog import service as catalog
from opensmm.db import utcnow
from opensmm.fulfillment.worker import Worker
from opensmm.money import format_money
from opensmm.orders import staff as orders_staff
from opensmm.orders.models import Order
from opensmm.providers import service as providers
from tests.api.helpers import LINK, answer, footprint, order_row, place, refusal
from tests.api.test_cli import in_process_runner
from tests.fulfillment.helpers import FAST, passes
from tests.support.panel import Customer, Panel

RATE = "1.23457"  # per 1000: makes every charge need rounding
COMMENTS = "Great!\n\n  Love it  \r\nمرحبا 👍\n   \n"  # three non-empty lines
NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).strftime("%d/%m/%Y")


def expected_charge(rate: str, units: int) -> Decimal:
    """The documented rule: rate × units / 1000, rounded half-up to 0.00001."""
    return (Decimal(rate) * units / 1000).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


# (type, the add fields, the units charged, flat?)
CASES: list[tuple[str, dict[str, Any], int, bool]] = [
    ("Default", {"quantity": 1234}, 1234, False),
    ("Package", {}, 1, True),
    ("Package", {"quantity": 5000}, 1, True),
    ("Custom Comments", {"comments": COMMENTS}, 3, False),
    ("Custom Comments", {"comments": COMMENTS, "quantity": 0}, 3, False),
    ("Custom Comments", {"comments": COMMENTS, "quantity": 3}, 3, False),
    ("Custom Comments Package", {"comments": COMMENTS}, 1, True),
    ("Mentions", {"usernames": "alice\nbob", "quantity": 700}, 700, False),
    (
        "Mentions with Hashtags",
        {"usernames": "alice", "hashtags": "#a\n#b", "quantity": 300},
        300,
        False,
    ),
    ("Mentions Custom List", {"usernames": "alice\nbob\n\ncarol\n"}, 3, False),
    ("Mentions Custom List", {"usernames": "alice\nbob\ncarol", "quantity": "0"}, 3, False),
    ("Mentions Hashtag", {"hashtag": "#opensmm", "quantity": 150}, 150, False),
    ("Mentions User Followers", {"username": "nasa", "quantity": 999}, 999, False),
    (
        "Mentions Media Likers",
        {"media": "https://instagram.com/p/xyz", "quantity": 101},
        101,
        False,
    ),
    ("Comment Likes", {"username": "commenter", "quantity": 333}, 333, False),
    ("Comment Replies", {"username": "commenter", "comments": COMMENTS}, 3, False),
    ("Poll", {"answer_number": 2, "quantity": 450}, 450, False),
    ("Invites from Groups", {"groups": "group_one\ngroup_two", "quantity": 200}, 200, False),
]


@pytest.fixture
def customer(panel: Panel) -> Customer:
    return panel.customer(balance="1000")


@pytest.mark.parametrize(("kind", "fields", "units", "flat"), CASES)
def test_add_charges_the_types_units(
    panel: Panel, customer: Customer, kind: str, fields: dict[str, Any], units: int, flat: bool
) -> None:
    service = panel.service(type=kind, rate=RATE, min_quantity=1, max_quantity=10_000)
    listed = {s["service"]: s for s in panel.api(customer.key, "services")}
    assert listed[service]["type"] == kind
    before = panel.balance(customer)
    order = place(panel, customer, service, **fields)
    charge = Decimal(RATE) if flat else expected_charge(RATE, units)
    assert panel.balance(customer) == before - charge
    status = panel.api(customer.key, "status", order=order)
    assert status == {
        "charge": status["charge"],
        "start_count": "0",
        "status": "Pending",
        "remains": str(units),
        "currency": "USD",
    }
    assert Decimal(status["charge"]) == charge
    row = order_row(panel, order)
    assert row.units == units
    assert panel.ledger_mismatches() == []


def test_the_types_own_fields_are_kept_with_the_order(panel: Panel, customer: Customer) -> None:
    replies = panel.service(type="Comment Replies", rate="1", min_quantity=1)
    order = place(panel, customer, replies, username="someone", comments=COMMENTS)
    fields = order_row(panel, order).fields
    assert fields["username"] == "someone"
    assert [line.strip() for line in fields["comments"].splitlines() if line.strip()] == [
        "Great!",
        "Love it",
        "مرحبا 👍",
    ]
    poll = panel.service(type="Poll", rate="1")
    assert (
        order_row(panel, place(panel, customer, poll, answer_number="3", quantity=100)).fields[
            "answer_number"
        ]
        == 3
    )


@pytest.mark.parametrize(
    ("rate", "units", "charge"),
    [
        ("0.90", 100, "0.09"),
        ("0.90", 50, "0.045"),
        ("1.23457", 1234, "1.52346"),  # 1.52345938 rounds up
        ("0.00005", 100, "0.00001"),  # 0.000005: a half rounds up
        ("0.00004", 100, "0"),  # 0.000004 rounds down to nothing
        ("2.5", 3, "0.0075"),
        ("99.99999", 10_000, "999.9999"),
    ],
)
def test_charge_is_rate_times_units_over_1000_exactly(
    panel: Panel, customer: Customer, rate: str, units: int, charge: str
) -> None:
    service = panel.service(rate=rate, min_quantity=1, max_quantity=100_000)
    before = panel.balance(customer)
    order = place(panel, customer, service, quantity=units)
    assert before - panel.balance(customer) == Decimal(charge)
    assert Decimal(panel.api(customer.key, "status", order=order)["charge"]) == Decimal(charge)
    assert panel.ledger_mismatches() == []


def test_drip_feed_charges_runs_times_quantity(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate=RATE, dripfeed=True, min_quantity=10, max_quantity=1000)
    before = panel.balance(customer)
    order = place(panel, customer, service, quantity=1000, runs=7, interval=15)
    assert panel.balance(customer) == before - expected_charge(RATE, 7000)
    row = order_row(panel, order)
    assert (row.quantity, row.runs, row.interval, row.units) == (1000, 7, 15, 7000)
    assert panel.api(customer.key, "status", order=order)["remains"] == "7000"
    # the bounds hold per run, not for the total
    assert refusal(
        panel, customer, "add", service=service, link=LINK, quantity=5, runs=100, interval=1
    ) == ("Quantity less than minimal 10")


def test_an_order_too_large_for_the_books_is_refused(panel: Panel, customer: Customer) -> None:
    drip = panel.service(rate="0", dripfeed=True, min_quantity=1, max_quantity=1_000_000_000)
    assert refusal(
        panel, customer, "add", service=drip, link=LINK, quantity=10_000_000, runs=1000, interval=5
    ) == ("The order is too large: quantity × runs must be at most 2000000000")


def test_empty_runs_and_interval_mean_no_drip_feed(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate="1", dripfeed=False)
    order = place(panel, customer, service, quantity=100, runs="", interval="")
    assert order_row(panel, order).runs is None


def test_subscription(panel: Panel, customer: Customer) -> None:
    service = panel.service(type="Subscriptions", rate=RATE, min_quantity=10, max_quantity=5000)
    before = panel.balance(customer)
    placed = panel.api(
        customer.key,
        "add",
        service=service,
        username="nasa",
        min=100,
        max=200,
        posts=5,
        old_posts=2,
        delay=30,
        expiry=NEXT_YEAR,
    )
    order = placed["order"]
    # Charged as it runs (spec §3): nothing up front, each post when it is made.
    assert panel.balance(customer) == before
    fields = order_row(panel, order).fields
    assert {
        k: fields[k] for k in ("username", "min", "max", "posts", "old_posts", "delay", "expiry")
    } == {
        "username": "nasa",
        "min": 100,
        "max": 200,
        "posts": 5,
        "old_posts": 2,
        "delay": 30,
        "expiry": NEXT_YEAR,
    }
    status = panel.api(customer.key, "status", order=order)
    # Kept here (manual): it runs at once; 5 posts to come, none so far, nothing charged.
    assert status == {"charge": "0.00", "start_count": "0", "status": "Active",
                      "remains": "5", "currency": "USD", "posts": "0"}


@pytest.mark.parametrize("delay", [0, 5, 10, 15, 30, 60, 90])
def test_subscription_delays_of_the_spec(panel: Panel, customer: Customer, delay: int) -> None:
    service = panel.service(type="Subscriptions", rate="1", min_quantity=10, max_quantity=5000)
    place(panel, customer, service, username="nasa", min=10, max=20, posts=1, delay=delay)


MISSING: list[tuple[str, dict[str, Any], str]] = [
    ("Custom Comments", {}, "Comments are required for this service"),
    ("Custom Comments", {"comments": " \n \n"}, "Comments are required for this service"),
    ("Custom Comments Package", {}, "Comments are required for this service"),
    ("Mentions", {"quantity": 100}, "Usernames are required for this service"),
    (
        "Mentions with Hashtags",
        {"usernames": "a", "quantity": 100},
        "Hashtags are required for this service",
    ),
    (
        "Mentions with Hashtags",
        {"hashtags": "#a", "quantity": 100},
        "Usernames are required for this service",
    ),
    ("Mentions Custom List", {}, "Usernames are required for this service"),
    ("Mentions Hashtag", {"quantity": 100}, "A hashtag is required for this service"),
    ("Mentions User Followers", {"quantity": 100}, "A username is required for this service"),
    ("Mentions Media Likers", {"quantity": 100}, "A media link is required for this service"),
    ("Comment Likes", {"quantity": 100}, "A username is required for this service"),
    ("Comment Replies", {"comments": "hi"}, "A username is required for this service"),
    ("Comment Replies", {"username": "u"}, "Comments are required for this service"),
    ("Poll", {"quantity": 100}, "Incorrect answer number"),
    ("Poll", {"quantity": 100, "answer_number": 0}, "Incorrect answer number"),
    ("Poll", {"quantity": 100, "answer_number": "first"}, "Incorrect answer number"),
    ("Poll", {"answer_number": 1}, "Incorrect quantity"),
    ("Invites from Groups", {"quantity": 100}, "Groups are required for this service"),
    ("Mentions", {"usernames": "a"}, "Incorrect quantity"),
    (
        "Custom Comments",
        {"comments": "a\nb\nc", "quantity": 5},
        "Quantity must equal the number of lines (3)",
    ),
    (
        "Mentions Custom List",
        {"usernames": "a\nb", "quantity": 3},
        "Quantity must equal the number of lines (2)",
    ),
    ("Custom Comments", {"comments": "a", "quantity": "x"}, "Incorrect quantity"),
    (
        "Custom Comments",
        {"comments": "a\x00b"},
        "Comments are not allowed to contain NUL characters",
    ),
    ("Custom Comments", {"comments": "a" * 65_537}, "Comments are too long"),
    (
        "Mentions Hashtag",
        {"hashtag": "#x\x00", "quantity": 100},
        "A hashtag is not allowed to contain NUL characters",
    ),
]


@pytest.mark.parametrize(("kind", "fields", "message"), MISSING)
def test_missing_or_bad_type_fields(
    panel: Panel, customer: Customer, kind: str, fields: dict[str, Any], message: str
) -> None:
    service = panel.service(type=kind, rate="1", min_quantity=1, max_quantity=10_000)
    assert refusal(panel, customer, "add", service=service, link=LINK, **fields) == message


def test_line_counts_obey_the_bounds(panel: Panel, customer: Customer) -> None:
    service = panel.service(type="Custom Comments", rate="1", min_quantity=3, max_quantity=4)
    lines = "\n".join(f"comment {i}" for i in range(5))
    assert refusal(panel, customer, "add", service=service, link=LINK, comments="a\nb") == (
        "Quantity less than minimal 3"
    )
    assert refusal(panel, customer, "add", service=service, link=LINK, comments=lines) == (
        "Quantity more than maximal 4"
    )


SUBSCRIPTION_BASE = {"username": "nasa", "min": 10, "max": 20, "posts": 2, "delay": 0}
PAST = (datetime.now(UTC) - timedelta(days=2)).strftime("%d/%m/%Y")
DELAYS = (
    "0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, "
    "420, 480, 540, 600"
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"username": None}, "A username is required for this service"),
        ({"min": None}, "Incorrect min"),
        ({"min": "ten"}, "Incorrect min"),
        ({"max": None}, "Incorrect max"),
        ({"min": 30}, "Incorrect min: it must not be more than max"),
        ({"min": 1}, "Quantity less than minimal 10"),
        ({"max": 6000}, "Quantity more than maximal 5000"),
        ({"posts": 10_001}, "Incorrect posts: a whole number from 0 to 10000"),
        ({"posts": "x"}, "Incorrect posts"),
        ({"old_posts": "x"}, "Incorrect old_posts"),
        ({"old_posts": 10_001}, "Incorrect old_posts: a whole number from 0 to 10000"),
        ({"delay": None}, "Incorrect delay"),
        ({"delay": 7}, f"Incorrect delay: one of {DELAYS} minutes"),
        ({"expiry": "2030-01-01"}, "Incorrect expiry: a date as d/m/Y"),
        ({"expiry": "31/02/2030"}, "Incorrect expiry: a date as d/m/Y"),
        ({"expiry": PAST}, "Incorrect expiry: the date has passed"),
        ({"link": "javascript:alert(1)"}, "Incorrect link"),
    ],
)
def test_subscription_refusals(
    panel: Panel, customer: Customer, change: dict[str, Any], message: str
) -> None:
    service = panel.service(type="Subscriptions", rate="1", min_quantity=10, max_quantity=5000)
    params = {**SUBSCRIPTION_BASE, **change}
    assert refusal(panel, customer, "add", service=service, **params) == message


def test_refused_type_orders_leave_the_balance_alone(panel: Panel, customer: Customer) -> None:
    """A refusal after validation passed (funds) writes nothing either."""
    poor = panel.customer(balance="0.001")
    service = panel.service(type="Custom Comments", rate="1000", min_quantity=1)
    before = footprint(panel, poor)
    assert refusal(panel, poor, "add", service=service, link=LINK, comments=COMMENTS) == (
        "Not enough funds on balance"
    )
    assert footprint(panel, poor) == before


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("Package", {}),
        ("Custom Comments", {"comments": COMMENTS}),
        ("Mentions Custom List", {"usernames": "alice\nbob"}),
    ],
)
def test_runs_on_a_type_without_a_quantity_are_refused(
    panel: Panel, customer: Customer, kind: str, fields: dict[str, Any]
) -> None:
    """Runs repeat a quantity: a package or a list of lines has none, so nothing is charged
    for runs the customer would never get."""
    service = panel.service(type=kind, rate="1", min_quantity=1, dripfeed=True)
    assert refusal(
        panel, customer, "add", service=service, link=LINK, runs=5, interval=10, **fields
    ) == ("Drip-feed is not available for this service")


# --- subscriptions charged as they run, over real HTTP (spec §3, §4) -----------------

PHP_AGENT = "Mozilla/4.0 (compatible; MSIE 5.01; Windows NT 5.0)"
EXPIRY = (datetime.now(UTC) + timedelta(days=30)).strftime("%d/%m/%Y")


def php_add(panel: Panel, key: str, data: dict[str, Any]) -> Any:
    """``$api->order($data)`` of the PHP ``class Api`` panels publish: key and action first,
    then the data, each ``name=urlencode(value)`` joined by ``&``, POSTed as a form."""
    post = {"key": key, "action": "add", **data}
    body = "&".join(f"{name}={quote_plus(str(value))}" for name, value in post.items())
    response = panel.http.post(
        panel.api_url, content=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": PHP_AGENT},
    )
    return answer(response)


def until(worker: Worker, panel: Panel, order_id: int, done: Callable[[Order], bool]) -> None:
    """Worker passes until the order is ``done`` (looked at now: the panel's own worker
    may have put its next look off), for at most 30 seconds."""
    deadline = time.monotonic() + 30
    while True:
        with panel.write() as session:
            order = session.get(Order, order_id)
            assert order is not None
            if done(order):
                return
            order.next_poll_at = utcnow()
        assert time.monotonic() < deadline, "the order never got there"
        passes(worker, 1)
        time.sleep(0.1)  # the panel's own worker may hold it for a moment


def test_the_published_php_examples_are_accepted_and_charged_as_they_run(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = panel.customer("5")
    service = panel.service(type="Subscriptions", rate="2", min_quantity=10, max_quantity=5000)
    # Unlimited new posts, 5 old ones, until the expiry.
    first = php_add(panel, customer.key, {"service": service, "username": "username",
                                          "min": 100, "max": 110, "posts": 0, "old_posts": 5,
                                          "delay": 30, "expiry": EXPIRY})
    # No posts at all.
    second = php_add(panel, customer.key, {"service": service, "username": "username",
                                           "min": 100, "max": 110, "delay": 30})
    assert set(first) == {"order"} and set(second) == {"order"}
    assert panel.balance(customer) == Decimal("5")  # nothing charged up front

    with in_process_runner(panel.database_url, monkeypatch) as cli:  # staff, manual mode
        recorded = cli("subscription", "post", str(first["order"]), "https://insta.test/p/1")
        assert recorded.exit_code == 0, recorded.output
        listed = json.loads(cli("subscription", "posts", str(first["order"]), "--json").output)
        refused = cli("subscription", "post", str(second["order"] + 1000), "https://x.test/")
    assert refused.exit_code == 1 and "Incorrect order ID" in refused.output
    [post] = listed["posts"]
    assert (post["number"], post["link"], post["old"], post["status"]) == (
        1, "https://insta.test/p/1", True, "Pending")
    assert f"post 1 recorded, order {post['order']}; Active" in recorded.output
    with panel.db.read() as session:
        child = session.scalar(select(Order).where(Order.subscription_id == first["order"]))
        assert child is not None
        paid = child.charge
    assert panel.balance(customer) == Decimal("5") - paid
    statuses = panel.api(customer.key, "status", orders=f"{first['order']},{second['order']}")
    assert statuses == {
        str(first["order"]): {"charge": format_money(paid), "start_count": "0", "status": "Active",
                              "remains": "0", "currency": "USD", "posts": "1"},
        str(second["order"]): {"charge": "0.00", "start_count": "0", "status": "Active",
                               "remains": "0", "currency": "USD", "posts": "0"},
    }
    # The post's order answers ``status`` as any order of the customer's.
    assert panel.api(customer.key, "status", order=child.id)["status"] == "Pending"
    assert panel.api(customer.key, "cancel", orders=second["order"]) == [
        {"order": second["order"], "cancel": 1}]
    assert panel.api(customer.key, "status", order=second["order"])["status"] == "Canceled"
    refused = php_add(panel, customer.key, {"service": service, "username": "u", "min": 100,
                                            "max": 110, "posts": -1, "delay": 30})
    assert refused == {"error": "Incorrect posts"}
    assert panel.ledger_mismatches() == []


def test_forwarded_to_an_opensmm_provider_its_posts_come_back_charged(panel: Panel) -> None:
    # The provider is a running opensmm too: this very panel, over HTTP, another account
    # (a second panel would cost the test budget another start).
    upstream = panel
    reseller = upstream.customer("10")  # the reseller's account at its provider
    upstream_service = upstream.service(type="Subscriptions", rate="1", min_quantity=10,
                                        max_quantity=5000)
    with panel.write() as session:
        provider = providers.add_provider(session, f"up{uuid.uuid4().hex[:8]}",
                                          upstream.api_url, reseller.key)
        service = catalog.add_service(
            session, name="Auto likes", category="Instagram", type="Subscriptions",
            rate=Decimal("3"), min_quantity=10, max_quantity=5000, fulfillment="provider",
            provider_id=provider.id, provider_service_id=upstream_service,
        ).id
    customer = panel.customer("1")
    order = php_add(panel, customer.key, {"service": service, "username": "username",
                                          "min": 100, "max": 110, "posts": 2, "old_posts": 0,
                                          "delay": 0, "expiry": EXPIRY})["order"]
    worker = Worker(panel.db, FAST)
    try:
        # Sent, then its status read (the panel's own worker may read it first).
        until(worker, panel, order, lambda sub: sub.status == "Active")
        with panel.db.read() as session:
            upstream_id = session.get(Order, order).upstream_id  # type: ignore[union-attr]
        for n in (1, 2):  # its staff record the account's posts there
            with upstream.write() as session:
                orders_staff.record_post(session, StaffActor.cli(), upstream_id or 0,
                                         f"https://insta.test/{n}")
        at_provider = upstream.api(reseller.key, "status", order=upstream_id)
        assert (at_provider["status"], at_provider["posts"]) == ("Completed", "2")
        until(worker, panel, order, lambda sub: sub.status == "Completed")
        passes(worker, 2)  # the same answer read again: nothing more
    finally:
        worker.close()
    status = panel.api(customer.key, "status", order=order)
    with panel.db.read() as session:
        children = list(session.scalars(select(Order).where(Order.subscription_id == order)))
        upstream_id = session.get(Order, order).upstream_id  # type: ignore[union-attr]
    assert len(children) == 2 and {c.status for c in children} == {"Completed"}
    spent = sum((c.charge for c in children), Decimal(0))
    assert 100 <= children[0].quantity <= 110
    assert status == {"charge": format_money(spent), "start_count": "0", "status": "Completed",
                      "remains": "0", "currency": "USD", "posts": "2"}
    assert panel.balance(customer) == Decimal("1") - spent
    assert upstream.balance(reseller) < Decimal("10")  # the provider charged its posts too
    assert upstream.api(reseller.key, "status", order=upstream_id)["posts"] == "2"
    assert panel.ledger_mismatches() == [] and upstream.ledger_mismatches() == []
