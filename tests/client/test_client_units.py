"""The pure parts: coercion, status tables, error mapping, the exception hierarchy, and
that the sync and async clients are one API over one parser."""

from __future__ import annotations

import inspect
import re
from decimal import Decimal
from pathlib import Path

import pytest

import opensmm.client as client_pkg
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
    HTTPServerError,
    HTTPStatusError,
    InvalidArgument,
    InvalidKey,
    ItemError,
    NotEnoughFunds,
    OrderNotFound,
    OrderState,
    RefillNotFound,
    RefillState,
    ServiceNotFound,
    SubscriptionState,
    Timeout,
    TransportError,
    UnknownStatus,
    UnknownStatusError,
    classify_api_error,
    parse_order_state,
    parse_refill_state,
    parse_subscription_state,
    require_known,
)
from opensmm.client.parse import ShapeError, to_bool, to_decimal, to_int
from opensmm.client.statuses import ORDER_SPELLINGS, REFILL_SPELLINGS, SUBSCRIPTION_SPELLINGS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "client.md"


# --- coercion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (5, 5),
        ("5", 5),
        (" 5 ", 5),
        ("-3", -3),
        ("1,234", 1234),
        ("1,234,567", 1234567),
        ("12.00", 12),
        (Decimal("12.0"), 12),
        (12.0, 12),
        ("1e3", 1000),
    ],
)
def test_to_int(raw: object, expected: int) -> None:
    assert to_int(raw, "n") == expected


@pytest.mark.parametrize(
    "raw",
    [True, "12.5", "", "abc", "1,23", None, [], Decimal("1.5"), "9" * 5000, 10**40, "1e99999999",
     "\uff11\uff12"],
)  # fmt: skip
def test_to_int_refuses(raw: object) -> None:
    with pytest.raises(ShapeError):
        to_int(raw, "n")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.90", Decimal("0.90")),
        (0.9, Decimal("0.9")),
        (Decimal("0.27819"), Decimal("0.27819")),
        (3, Decimal(3)),
        ("1,234.5", Decimal("1234.5")),
        (" -0.5 ", Decimal("-0.5")),
        (".5", Decimal("0.5")),
    ],
)
def test_to_decimal(raw: object, expected: Decimal) -> None:
    result = to_decimal(raw, "m")
    assert result == expected
    assert isinstance(result, Decimal)


@pytest.mark.parametrize(
    "raw", [True, "0,90", "1,234", "NaN", "inf", Decimal("NaN"), float("nan"), "1_0", None, ""]
)
def test_to_decimal_refuses(raw: object) -> None:
    with pytest.raises(ShapeError):
        to_decimal(raw, "m")


@pytest.mark.parametrize("raw", [2, "2", "maybe", Decimal("0.5"), []])
def test_to_bool_refuses(raw: object) -> None:
    with pytest.raises(ShapeError):
        to_bool(raw, "b")


def test_to_bool_default() -> None:
    assert to_bool(None, "b") is False
    assert to_bool(None, "b", default=True) is True
    assert to_bool(" On ", "b") is True
    assert to_bool("off", "b") is False


# --- statuses ------------------------------------------------------------------------


def test_canonical_spellings_round_trip() -> None:
    for state in OrderState:
        assert parse_order_state(state.value) is state
        assert parse_order_state(state.value.upper()) is state
    for refill in RefillState:
        assert parse_refill_state(refill.value) is refill
    for sub in SubscriptionState:
        assert parse_subscription_state(sub.value) is sub


def test_subscription_spellings() -> None:
    assert parse_subscription_state("CANCELLED") is SubscriptionState.CANCELED
    assert parse_subscription_state("complete") is SubscriptionState.COMPLETED
    assert parse_subscription_state("Refunded") == UnknownStatus("Refunded", "subscription")
    assert parse_subscription_state("In progress") == UnknownStatus("In progress", "subscription")


def test_tables_do_not_cross() -> None:
    # An order word is not a refill word unless the API says so, and vice versa.
    assert parse_refill_state("Processing") == UnknownStatus("Processing", "refill")
    assert parse_refill_state("Canceled") == UnknownStatus("Canceled", "refill")
    assert parse_order_state("Rejected") == UnknownStatus("Rejected", "order")
    assert parse_order_state("Error") == UnknownStatus("Error", "order")
    assert parse_order_state("Active") == UnknownStatus("Active", "order")


def test_unknown_status_value() -> None:
    unknown = parse_order_state("Succes s")
    assert isinstance(unknown, UnknownStatus)
    assert unknown.raw == "Succes s"
    assert str(unknown) == "Succes s"
    with pytest.raises(UnknownStatusError, match="unknown order status 'Succes s'"):
        require_known(unknown)
    assert require_known(OrderState.PARTIAL) is OrderState.PARTIAL


def test_final_states() -> None:
    assert {s for s in OrderState if s.is_final} == {
        OrderState.COMPLETED,
        OrderState.PARTIAL,
        OrderState.CANCELED,
    }
    assert {s for s in RefillState if s.is_final} == {
        RefillState.COMPLETED,
        RefillState.REJECTED,
        RefillState.ERROR,
    }
    assert not SubscriptionState.PAUSED.is_final


def _docs() -> str:
    return DOCS.read_text(encoding="utf-8")


def test_docs_list_every_spelling() -> None:
    text = _docs().casefold()
    for table in (ORDER_SPELLINGS, REFILL_SPELLINGS, SUBSCRIPTION_SPELLINGS):
        for spelling in table:
            assert f"`{spelling}`" in text, spelling


# --- error mapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("Not enough funds on balance", NotEnoughFunds),
        ("neworder.error.not_enough_funds", NotEnoughFunds),
        ("Insufficient balance", NotEnoughFunds),
        ("Invalid API key", InvalidKey),
        ("invalid_key", InvalidKey),
        ("Incorrect order ID", OrderNotFound),
        ("Order not found", OrderNotFound),
        ("Refill not found", RefillNotFound),
        ("Incorrect service ID", ServiceNotFound),
        ("Invalid order quantity", ApiError),
        ("Incorrect service type fields", ApiError),
        ("Something else", ApiError),
    ],
)
def test_classify(message: str, cls: type[ApiError]) -> None:
    exc = classify_api_error(message)
    assert type(exc) is cls
    assert str(exc) == message


def test_item_error() -> None:
    item = ItemError("Incorrect order ID")
    assert isinstance(item.exception, OrderNotFound)
    assert item.error_class is OrderNotFound
    assert str(item) == "Incorrect order ID"


# --- hierarchy -----------------------------------------------------------------------

DOUBTFUL = [Timeout, ConnectionDropped, HTTPServerError, BadResponse]
CERTAIN = [ConnectError, ConnectTimeout, HTTPStatusError, ApiError, NotEnoughFunds]


@pytest.mark.parametrize("cls", DOUBTFUL)
def test_doubtful_classes(cls: type[ClientError]) -> None:
    assert issubclass(cls, DoubtfulError)
    assert cls.outcome_unknown is True


@pytest.mark.parametrize("cls", CERTAIN)
def test_certain_classes(cls: type[ClientError]) -> None:
    assert not issubclass(cls, DoubtfulError)
    assert cls.outcome_unknown is False


def test_hierarchy() -> None:
    assert issubclass(Timeout, TransportError)
    assert issubclass(ConnectionDropped, TransportError)
    assert issubclass(ConnectTimeout, ConnectError)
    assert not issubclass(ConnectTimeout, Timeout)
    assert issubclass(InvalidArgument, ValueError)
    assert issubclass(HTTPServerError, HTTPStatusError)
    for name in client_pkg.__all__:
        obj = getattr(client_pkg, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, ClientError), name


def test_docs_list_every_exception() -> None:
    text = _docs()
    for name in client_pkg.__all__:
        obj = getattr(client_pkg, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert f"`{name}`" in text, name


# --- one API, one parser -------------------------------------------------------------


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_sync_and_async_have_the_same_api() -> None:
    sync = _public_methods(Client)
    async_ = _public_methods(AsyncClient)
    sync.pop("close")
    async_.pop("aclose")
    assert sync.keys() == async_.keys()
    for name, signature in sync.items():
        assert str(async_[name]) == str(signature), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name


def test_transports_do_no_parsing() -> None:
    package = Path(client_pkg.__file__).parent
    for module in ("sync.py", "async_.py"):
        source = (package / module).read_text(encoding="utf-8")
        assert "import parse" not in source and "from opensmm.client.parse" not in source
        assert not re.search(r"json|Decimal|\.loads\(", source), module
