"""Every failure is one clear exception, and says whether the panel may have acted."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import httpx
import pytest

from opensmm.client import (
    ApiError,
    AsyncClient,
    BadResponse,
    Client,
    ClientError,
    ConnectError,
    ConnectionDropped,
    ConnectTimeout,
    DoubtfulError,
    DuplicateActiveOrder,
    HTTPServerError,
    HTTPStatusError,
    IncorrectRequest,
    InvalidArgument,
    InvalidKey,
    InvalidLink,
    NotEnoughFunds,
    OrderNotFound,
    QuantityOutOfRange,
    ServiceNotFound,
    Timeout,
    TransportError,
)
from tests.client.support import KEY, Api
from tests.fakepanel import Drop, Empty, FakePanel, Json, Slow, Text, Truncated, free_port


def add(api: Api) -> Any:
    return api("add", 1, "https://instagram.com/p/x", 100)


# --- API errors: explicit refusals, certainly not processed --------------------------


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("Not enough funds on balance", NotEnoughFunds),
        ("neworder.error.not_enough_funds", NotEnoughFunds),
        ("Incorrect order ID", OrderNotFound),
        ("Invalid API key", InvalidKey),
        ("Incorrect service ID", ServiceNotFound),
        ("Incorrect link", InvalidLink),
        ("Quantity less than minimal 50", QuantityOutOfRange),
        ("Quantity more than maximal 10000", QuantityOutOfRange),
        (
            "You have active order with this link. Please wait until order being completed.",
            DuplicateActiveOrder,
        ),
        ("Incorrect request", IncorrectRequest),
        ("Your account is suspended", ApiError),
    ],
)
def test_api_errors(api: Api, fake: FakePanel, message: str, cls: type[ApiError]) -> None:
    fake.on("add", {"error": message})
    with pytest.raises(cls) as info:
        add(api)
    exc = info.value
    assert type(exc) is cls
    assert str(exc) == exc.message == message
    assert exc.action == "add"
    assert exc.http_status == 200
    assert exc.outcome_unknown is False
    assert not isinstance(exc, DoubtfulError)
    assert fake.count("add") == 1


def test_wrong_key(api: Api, fake: FakePanel) -> None:
    with pytest.raises(InvalidKey):
        api.with_options(key="wrong")("balance")


def test_api_error_with_4xx_status_keeps_the_message(api: Api, fake: FakePanel) -> None:
    fake.on("add", Json({"error": "Not enough funds on balance"}, status=400))
    with pytest.raises(NotEnoughFunds) as info:
        add(api)
    assert info.value.http_status == 400
    assert info.value.outcome_unknown is False


def test_both_order_and_error_is_doubtful(api: Api, fake: FakePanel) -> None:
    fake.on("add", {"order": 5, "error": "Something"})
    with pytest.raises(BadResponse) as info:
        add(api)
    assert info.value.outcome_unknown is True


# --- unreadable answers: the panel may have acted --------------------------------------


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (Text("<html><body><h1>502 Bad Gateway</h1></body></html>"), "HTML"),
        (Text('<br />\n<b>Warning</b>: mysqli... {"order": 5}'), "HTML"),
        (Empty(), "empty"),
        (Text("   \n"), "empty"),
        (Text('{"order": 5'), "invalid JSON"),
        (Text("OK"), "invalid JSON"),
        (Json({"status": "ok"}), "'order'"),
        (Json([{"order": 5}]), "JSON object"),
        (Json({"order": "abc"}), "order"),
        (Json({"order": 0}), "order"),
        (Json({"order": True}), "order"),
        (Text('{"order": NaN}'), "NaN"),
        (Text('{"order": ' + "9" * 5000 + "}"), "too long"),
        (Json({"order": "1e99999999"}), "order"),
    ],
)
def test_bad_responses(api: Api, fake: FakePanel, reply: Any, needle: str) -> None:
    fake.on("add", reply)
    with pytest.raises(BadResponse) as info:
        add(api)
    exc = info.value
    assert needle in str(exc)
    assert exc.outcome_unknown is True
    assert isinstance(exc, DoubtfulError)
    assert exc.action == "add"
    assert len(exc.snippet) <= 200
    assert fake.count("add") == 1


def test_bad_response_snippet_is_short(api: Api, fake: FakePanel) -> None:
    fake.on("services", Text("<html>" + "x" * 5000 + "</html>"))
    with pytest.raises(BadResponse) as info:
        api("services")
    assert info.value.snippet.startswith("<html>xxx")
    assert len(info.value.snippet) == 200
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    "body",
    [
        {"1": "Completed"},  # a status list whose items are not objects
        {"abc": {"status": "Completed"}},  # a key that is not an id
        [{"status": "Completed"}],  # an array item without its id
        "Completed",
    ],
)
def test_wrong_multi_shapes(api: Api, fake: FakePanel, body: object) -> None:
    fake.on("status", body)
    with pytest.raises(BadResponse):
        api("status_many", [1, 2])


# --- HTTP statuses -------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_is_doubtful(api: Api, fake: FakePanel, code: int) -> None:
    fake.on("add", Text("<h1>Internal Server Error</h1>", status=code))
    with pytest.raises(HTTPServerError) as info:
        add(api)
    exc = info.value
    assert exc.status_code == code
    assert "Internal Server Error" in exc.snippet
    assert f"HTTP {code}" in str(exc)
    assert exc.outcome_unknown is True
    assert isinstance(exc, HTTPStatusError)
    assert isinstance(exc, DoubtfulError)


@pytest.mark.parametrize("code", [403, 404, 429])
def test_4xx_page_is_not_doubtful(api: Api, fake: FakePanel, code: int) -> None:
    fake.on("add", Text("<h1>Forbidden by WAF</h1>", status=code))
    with pytest.raises(HTTPStatusError) as info:
        add(api)
    assert info.value.status_code == code
    assert "Forbidden by WAF" in str(info.value)
    assert info.value.outcome_unknown is False


def test_redirect_is_not_followed(api: Api, fake: FakePanel) -> None:
    fake.on("balance", Text("", status=301, headers={"Location": "https://panel.test/api/v2/"}))
    with pytest.raises(HTTPStatusError, match=r"redirect to https://panel\.test/api/v2/") as info:
        api("balance")
    assert info.value.status_code == 301
    assert info.value.outcome_unknown is False
    assert fake.count() == 1


# --- transport: refused (safe) vs timed out / dropped (doubtful) -----------------------


def test_connection_refused_is_not_doubtful(api: Api) -> None:
    refused = api.with_options(url=f"http://127.0.0.1:{free_port()}/api/v2")
    with pytest.raises(ConnectError) as info:
        refused("add", 1, "https://x", 100)
    exc = info.value
    assert isinstance(exc, TransportError)
    assert exc.outcome_unknown is False
    assert not isinstance(exc, DoubtfulError)
    assert isinstance(exc.__cause__, httpx.ConnectError)


def test_read_timeout_is_doubtful(api: Api, fake: FakePanel) -> None:
    fake.on("add", Slow(Json({"order": 1}), 5))
    with pytest.raises(Timeout) as info:
        add(api.with_options(timeout=0.3))
    exc = info.value
    assert exc.outcome_unknown is True
    assert isinstance(exc, DoubtfulError)
    assert isinstance(exc, TransportError)
    assert "outcome is unknown" in str(exc)
    assert fake.count("add") == 1  # it did arrive, once: never retried behind our back


def test_timeout_with_httpx_timeout_object(api: Api, fake: FakePanel) -> None:
    fake.on("balance", Slow({"balance": "1"}, 5))
    with pytest.raises(Timeout):
        api.with_options(timeout=httpx.Timeout(5.0, read=0.3))("balance")


def test_slow_but_within_timeout(api: Api, fake: FakePanel) -> None:
    fake.on("balance", Slow({"balance": "1"}, 0.2))
    assert str(api.with_options(timeout=5)("balance").amount) == "1"


def test_dropped_before_answer_is_doubtful(api: Api, fake: FakePanel) -> None:
    fake.on("add", Drop())
    with pytest.raises(ConnectionDropped) as info:
        add(api)
    assert info.value.outcome_unknown is True
    assert isinstance(info.value, DoubtfulError)
    assert fake.count("add") == 1


def test_dropped_mid_response_is_doubtful(api: Api, fake: FakePanel) -> None:
    fake.on("add", Truncated({"order": 23501}, keep=5))
    with pytest.raises(ConnectionDropped) as info:
        add(api)
    assert info.value.outcome_unknown is True
    assert fake.count("add") == 1


def test_pool_timeout_is_not_doubtful(fake: FakePanel) -> None:
    """Waiting for a free pooled connection timed out: the request never left."""
    fake.on("balance", Slow({"balance": "1"}, 1), {"balance": "2"})
    http = httpx.Client(limits=httpx.Limits(max_connections=1))
    client = Client(fake.url, KEY, http_client=http, timeout=httpx.Timeout(5.0, pool=0.2))
    first = threading.Thread(target=client.balance)
    first.start()
    try:
        fake.wait_for(1, "balance")
        with pytest.raises(ConnectTimeout) as info:
            client.balance()
        assert info.value.outcome_unknown is False
        assert isinstance(info.value, ConnectError)
        assert not isinstance(info.value, Timeout)
        assert fake.count("balance") == 1
    finally:
        first.join()
        http.close()


def test_async_pool_timeout_is_not_doubtful(fake: FakePanel) -> None:
    fake.on("balance", Slow({"balance": "1"}, 1), {"balance": "2"})

    async def run() -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as http:
            client = AsyncClient(
                fake.url, KEY, http_client=http, timeout=httpx.Timeout(5.0, pool=0.2)
            )
            first = asyncio.ensure_future(client.balance())
            await asyncio.to_thread(fake.wait_for, 1, "balance")
            with pytest.raises(ConnectTimeout) as info:
                await client.balance()
            assert info.value.outcome_unknown is False
            assert (await first).amount == 1

    asyncio.run(run())
    assert fake.count("balance") == 1


# --- batches -------------------------------------------------------------------------


def test_batch_failure_keeps_partial_results(api: Api, fake: FakePanel) -> None:
    def first_ok(received: Any) -> Any:
        ids = received.params["orders"].split(",")
        return [{"order": int(i), "cancel": 1} for i in ids]

    fake.on("cancel", first_ok, Drop())
    with pytest.raises(ConnectionDropped) as info:
        api("cancel", range(1, 151))
    partial = info.value.partial_results
    assert partial is not None
    assert sorted(partial) == list(range(1, 101))
    assert fake.count("cancel") == 2


def test_batch_failure_on_first_chunk_has_no_partial_results(api: Api, fake: FakePanel) -> None:
    fake.on("cancel", {"error": "Invalid API key"})
    with pytest.raises(InvalidKey) as info:
        api("cancel", [1, 2])
    assert info.value.partial_results is None


# --- invalid arguments: nothing is sent ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("status", (0,), {}),
        ("status", ("5",), {}),
        ("status", (True,), {}),
        ("status_many", ("1,2",), {}),
        ("status_many", ([1, -2],), {}),
        ("cancel", ([1.5],), {}),
        ("add", (1, "", 100), {}),
        ("add", (1, "https://x", -1), {}),
        ("add", (1, "https://x", 10), {"bogus": 1}),
        ("add", (1, "https://x", 10), {"runs": True}),
        ("add", (1, "https://x", 10), {"comments": object()}),
        ("add", (1, "https://x", 10), {"extra": {"key": "other"}}),
        ("add", (1, "https://x", 10), {"runs": 2, "extra": {"runs": 3}}),
    ],
)
def test_invalid_arguments(
    api: Api, fake: FakePanel, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument) as info:
        api(method, *args, **kwargs)
    assert isinstance(info.value, ValueError)
    assert info.value.outcome_unknown is False
    assert fake.count() == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "ftp://x/api"},
        {"url": "/api/v2"},
        {"url": ""},
        {"key": ""},
        {"timeout": 0},
        {"timeout": -1.0},
        {"http_client": object()},
    ],
)
def test_invalid_constructor_arguments(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"url": "http://127.0.0.1:1/api/v2", "key": KEY, **kwargs}
    url, key = options.pop("url"), options.pop("key")
    with pytest.raises(InvalidArgument):
        Client(url, key, **options)
    with pytest.raises(InvalidArgument):
        AsyncClient(url, key, **options)


# --- the key never leaks -------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Text(f"<html>Bad key {KEY}</html>"),
        Text(f"<html>Bad key {KEY}</html>", status=500),
        Json({"error": f"Invalid API key {KEY}"}),
        Json({"error": f"Invalid API key {KEY}"}, status=403),
        Json({"order": KEY}),
        Text("", status=302, headers={"Location": f"https://panel.test/?key={KEY}"}),
    ],
)
def test_key_never_in_messages(
    api: Api, fake: FakePanel, reply: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.on("add", reply)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ClientError) as info:
        add(api)
    exc = info.value
    texts = [str(exc), repr(exc), getattr(exc, "snippet", ""), *(str(a) for a in exc.args)]
    assert all(KEY not in text for text in texts), texts
    assert "***" in str(exc)
    ours = [r for r in caplog.records if r.name.startswith("opensmm")]
    assert all(KEY not in record.getMessage() for record in ours)


def test_key_not_in_client_repr() -> None:
    client = Client("https://panel.test/api/v2", KEY, timeout=7)
    assert KEY not in repr(client)
    assert "panel.test" in repr(client)
    client.close()
    assert KEY not in repr(AsyncClient("https://panel.test/api/v2", KEY))


def test_key_not_logged(api: Api, fake: FakePanel, caplog: pytest.LogCaptureFixture) -> None:
    fake.use_seed()
    caplog.set_level(logging.DEBUG)
    api("balance")
    api("status_many", [1, 10, 100])
    assert any("balance" in record.getMessage() for record in caplog.records)
    assert all(KEY not in record.getMessage() for record in caplog.records)
