"""Every API v2 action, sync and async, against a real HTTP fake panel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from opensmm import __version__
from opensmm.client import (
    Balance,
    ItemError,
    OrderNotFound,
    OrderState,
    OrderStatus,
    RefillNotFound,
    RefillState,
    Service,
    SubscriptionState,
    SubscriptionStatus,
)
from tests.client.support import KEY, Api
from tests.fakepanel import FakePanel, Received


def test_services_seed(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    services = api("services")
    assert services == [
        Service(
            id=1,
            name="Followers",
            type="Default",
            category="First Category",
            rate=Decimal("0.90"),
            min=50,
            max=10000,
            refill=True,
            cancel=True,
            dripfeed=False,
            description=None,
        )
    ]
    assert isinstance(services[0].rate, Decimal)
    sent = fake.last("services")
    assert sent.method == "POST"
    assert sent.params == {"key": KEY, "action": "services"}


def test_services_extra_fields(api: Api, fake: FakePanel) -> None:
    fake.on(
        "services",
        [
            {
                "service": "7",
                "name": "Comments",
                "type": "Custom Comments",
                "category": "IG",
                "rate": 12.5,
                "min": 10,
                "max": "1,000",
                "refill": "0",
                "cancel": "yes",
                "dripfeed": 1,
                "desc": "Real comments",
                "average_time": "3 hours",
            }
        ],
    )
    (service,) = api("services")
    assert service.id == 7
    assert service.rate == Decimal("12.5")
    assert (service.min, service.max) == (10, 1000)
    assert (service.refill, service.cancel, service.dripfeed) == (False, True, True)
    assert service.description == "Real comments"
    assert service.extra == {"average_time": "3 hours"}


def test_request_encoding(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    api("balance")
    sent = fake.last("balance")
    assert sent.method == "POST"
    assert sent.path == "/api/v2"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers["user-agent"] == f"opensmm-client/{__version__}"
    assert sent.multi == {"key": [KEY], "action": ["balance"]}


def test_add_default(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    order = api("add", service=1, link="https://instagram.com/p/x y&z", quantity=100)
    assert order == 23501
    assert fake.count("add") == 1
    assert fake.last("add").params == {
        "key": KEY,
        "action": "add",
        "service": "1",
        "link": "https://instagram.com/p/x y&z",
        "quantity": "100",
    }


def test_add_dripfeed(api: Api, fake: FakePanel) -> None:
    fake.on("add", {"order": "42"})
    assert api("add", 1, "https://t.me/c", 100, runs=5, interval=30) == 42
    params = fake.last("add").params
    assert (params["quantity"], params["runs"], params["interval"]) == ("100", "5", "30")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {}),  # Package: no quantity at all
        ({"comments": ["nice", "great pic"]}, {"comments": "nice\ngreat pic"}),
        ({"comments": "a\nb"}, {"comments": "a\nb"}),
        ({"usernames": ["alice", "bob"]}, {"usernames": "alice\nbob"}),
        (
            {"usernames": "alice", "hashtags": ["#a", "#b"]},
            {"usernames": "alice", "hashtags": "#a\n#b"},
        ),
        ({"hashtag": "#sun"}, {"hashtag": "#sun"}),
        ({"username": "carol"}, {"username": "carol"}),
        ({"media": "https://instagram.com/p/m"}, {"media": "https://instagram.com/p/m"}),
        ({"username": "dan", "comments": ["hi"]}, {"username": "dan", "comments": "hi"}),
        ({"answer_number": 2}, {"answer_number": "2"}),
        ({"groups": ["g1", "g2"]}, {"groups": "g1\ng2"}),
        (
            {
                "username": "eve",
                "min": 100,
                "max": 200,
                "posts": 10,
                "old_posts": 2,
                "delay": 30,
                "expiry": date(2025, 3, 7),
            },
            {
                "username": "eve",
                "min": "100",
                "max": "200",
                "posts": "10",
                "old_posts": "2",
                "delay": "30",
                "expiry": "07/03/2025",
            },
        ),
        ({"expiry": "31/12/2030"}, {"expiry": "31/12/2030"}),
        ({"extra": {"country": "US", "speed": 2}}, {"country": "US", "speed": "2"}),
    ],
)
def test_add_type_fields(
    api: Api, fake: FakePanel, fields: dict[str, object], expected: dict[str, str]
) -> None:
    fake.on("add", {"order": 9})
    assert api("add", 3, "https://x.test/p", **fields) == 9
    params = fake.last("add").params
    base = {"key": KEY, "action": "add", "service": "3", "link": "https://x.test/p"}
    assert params == {**base, **expected}


def test_add_quantity_zero_is_sent(api: Api, fake: FakePanel) -> None:
    fake.on("add", {"order": 9})
    api("add", 3, "https://x.test/p", 0, comments=["a", "b"])
    assert fake.last("add").params["quantity"] == "0"


def test_status_single(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    status = api("status", 23501)
    assert status == OrderStatus(
        charge=Decimal("0.27819"),
        start_count=3572,
        status=OrderState.PARTIAL,
        remains=157,
        currency="USD",
    )
    assert fake.last("status").params == {"key": KEY, "action": "status", "order": "23501"}


def test_status_single_not_found(api: Api, fake: FakePanel) -> None:
    fake.on("status", {"error": "Incorrect order ID"})
    with pytest.raises(OrderNotFound) as info:
        api("status", 5)
    assert str(info.value) == "Incorrect order ID"
    assert info.value.action == "status"
    assert info.value.outcome_unknown is False


def test_status_many_seed(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    result = api("status_many", [1, 10, 100])
    assert fake.last("status").params["orders"] == "1,10,100"
    assert set(result) == {1, 10, 100}
    assert result[1].status is OrderState.PARTIAL
    assert result[100] == OrderStatus(
        charge=Decimal("1.44219"),
        start_count=234,
        status=OrderState.IN_PROGRESS,
        remains=10,
        currency="USD",
    )
    assert result[10] == ItemError("Incorrect order ID")
    assert isinstance(result[10].exception, OrderNotFound)


def test_status_many_chunks_by_100(api: Api, fake: FakePanel) -> None:
    def answer(received: Received) -> dict[str, object]:
        ids = received.params["orders"].split(",")
        return {i: {"status": "Completed", "charge": "1", "remains": 0} for i in ids}

    fake.on("status", answer)
    ids = list(range(1, 251))
    result = api("status_many", [*ids, 5, 7])  # duplicates are dropped
    sent = [r.params["orders"].split(",") for r in fake.received("status")]
    assert [len(chunk) for chunk in sent] == [100, 100, 50]
    assert [int(i) for chunk in sent for i in chunk] == ids
    assert sorted(result) == ids
    assert all(s.status is OrderState.COMPLETED for s in result.values())


def test_status_many_empty_sends_nothing(api: Api, fake: FakePanel) -> None:
    assert api("status_many", []) == {}
    assert fake.count() == 0


def test_subscription_status(api: Api, fake: FakePanel) -> None:
    fake.on(
        "status",
        lambda r: (
            {"status": "Active", "posts": "3", "expiry": "31/12/2030", "charge": "1.5"}
            if "order" in r.params
            else [{"order": 4, "status": "EXPIRED"}, {"order": 5, "error": "Incorrect order ID"}]
        ),
    )
    status = api("subscription_status", 4)
    assert status == SubscriptionStatus(
        status=SubscriptionState.ACTIVE,
        charge=Decimal("1.5"),
        posts=3,
        expiry="31/12/2030",
        currency=None,
    )
    many = api("subscription_status_many", [4, 5])
    assert many[4].status is SubscriptionState.EXPIRED
    assert many[5] == ItemError("Incorrect order ID")


def test_refill_single(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    assert api("refill", 23501) == 1
    assert fake.last("refill").params == {"key": KEY, "action": "refill", "order": "23501"}


def test_refill_many(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    result = api("refill_many", [1, 2, 3])
    assert fake.last("refill").params["orders"] == "1,2,3"
    assert result == {1: 1, 2: 2, 3: ItemError("Incorrect order ID")}


def test_refill_status_single(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    assert api("refill_status", 1) is RefillState.COMPLETED
    assert fake.last("refill_status").params == {
        "key": KEY,
        "action": "refill_status",
        "refill": "1",
    }


def test_refill_status_single_not_found(api: Api, fake: FakePanel) -> None:
    fake.on("refill_status", {"status": {"error": "Refill not found"}})
    with pytest.raises(RefillNotFound):
        api("refill_status", 1)


def test_refill_status_many(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    result = api("refill_status_many", [1, 2, 3])
    assert fake.last("refill_status").params["refills"] == "1,2,3"
    assert result == {
        1: RefillState.COMPLETED,
        2: RefillState.REJECTED,
        3: ItemError("Refill not found"),
    }
    assert isinstance(result[3].exception, RefillNotFound)


def test_cancel(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    result = api("cancel", [9, 2])
    assert fake.last("cancel").params["orders"] == "9,2"
    assert result == {9: ItemError("Incorrect order ID"), 2: True}


def test_cancel_single_id_is_a_list_of_one(api: Api, fake: FakePanel) -> None:
    fake.on("cancel", [{"order": 2, "cancel": "1"}])
    assert api("cancel", [2]) == {2: True}
    assert fake.last("cancel").params["orders"] == "2"


def test_balance(api: Api, fake: FakePanel) -> None:
    fake.use_seed()
    assert api("balance") == Balance(amount=Decimal("100.84292"), currency="USD")


def test_injected_http_client_is_used_and_not_closed(fake: FakePanel) -> None:
    import asyncio

    import httpx

    from opensmm.client import AsyncClient, Client

    fake.use_seed()
    with httpx.Client(headers={"X-Test": "1"}) as http:
        with Client(fake.url, KEY, http_client=http) as client:
            assert client.balance().amount == Decimal("100.84292")
        assert not http.is_closed
        with Client(fake.url, KEY, http_client=http) as client:
            assert client.status(1).remains == 157
    assert fake.last().headers["x-test"] == "1"

    async def run() -> None:
        async with httpx.AsyncClient() as http:
            async with AsyncClient(fake.url, KEY, http_client=http) as client:
                assert (await client.balance()).currency == "USD"
            assert not http.is_closed

    asyncio.run(run())
    assert fake.count("balance") == 2


def test_one_client_many_calls_keeps_the_connection(fake: FakePanel) -> None:
    from opensmm.client import Client

    fake.use_seed()
    with Client(fake.url, KEY) as client:
        for _ in range(5):
            client.balance()
        client.status_many([1, 10, 100])
    assert fake.count() == 6
