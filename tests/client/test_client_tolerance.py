"""What real panels send besides the textbook answer: the client must read it all."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opensmm.client import (
    ApiError,
    BadResponse,
    ItemError,
    NotEnoughFunds,
    OrderNotFound,
    OrderState,
    RefillState,
    UnknownStatus,
    UnknownStatusError,
)
from tests.client.support import Api
from tests.fakepanel import FakePanel, Text


@pytest.mark.parametrize(
    "body",
    [
        {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157"},
        {"charge": 0.27819, "start_count": 3572, "status": "Partial", "remains": 157},
        {"charge": " 0.27819 ", "start_count": "3,572", "status": "Partial", "remains": "157.0"},
        {"charge": "0.27819", "start_count": 3572.0, "status": "Partial", "remains": "157"},
    ],
)
def test_numbers_as_numbers_or_strings(api: Api, fake: FakePanel, body: dict[str, object]) -> None:
    fake.on("status", body)
    status = api("status", 1)
    assert status.charge == Decimal("0.27819")
    assert isinstance(status.charge, Decimal)
    assert (status.start_count, status.remains) == (3572, 157)


def test_float_money_is_exact(api: Api, fake: FakePanel) -> None:
    # 0.1 + 0.2 style values must come through digit for digit, not via binary float
    fake.on("balance", Text('{"balance": 100.84292000000001, "currency": "USD"}'))
    assert api("balance").amount == Decimal("100.84292000000001")


def test_grouped_money(api: Api, fake: FakePanel) -> None:
    fake.on("balance", {"balance": "1,234.50", "currency": "USD"})
    assert api("balance").amount == Decimal("1234.50")


@pytest.mark.parametrize("amount", ["0,90", "1,234", "$1.00", "NaN", "Infinity", "1_000", ""])
def test_ambiguous_or_bad_money_is_refused(api: Api, fake: FakePanel, amount: str) -> None:
    fake.on("balance", {"balance": amount, "currency": "USD"})
    with pytest.raises(BadResponse) as info:
        api("balance")
    assert "balance" in str(info.value)


def test_missing_optional_fields(api: Api, fake: FakePanel) -> None:
    fake.on("status", {"status": "Pending", "charge": None, "start_count": "", "remains": None})
    status = api("status", 1)
    assert status.status is OrderState.PENDING
    assert (status.charge, status.start_count, status.remains, status.currency) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("no", False),
        ("true", True),
        ("FALSE", False),
        (None, False),
    ],
)
def test_booleans(api: Api, fake: FakePanel, raw: object, expected: bool) -> None:
    service = {"service": 1, "name": "F", "rate": "1", "min": 1, "max": 2, "refill": raw}
    fake.on("services", [service])
    assert api("services")[0].refill is expected


def test_bad_boolean_is_refused(api: Api, fake: FakePanel) -> None:
    service = {"service": 1, "name": "F", "rate": "1", "min": 1, "max": 2, "cancel": "maybe"}
    fake.on("services", [service])
    with pytest.raises(BadResponse, match="cancel"):
        api("services")


def test_services_keyed_by_id(api: Api, fake: FakePanel) -> None:
    fake.on("services", {"5": {"service": 5, "name": "X", "rate": "1", "min": 1, "max": 9}})
    (service,) = api("services")
    assert (service.id, service.type, service.category) == (5, "Default", "")


def test_multi_status_as_array(api: Api, fake: FakePanel) -> None:
    fake.on(
        "status",
        [
            {"order": 1, "charge": "1.00", "status": "completed", "remains": "0"},
            {"order": "2", "status": "in_progress", "remains": 5},
            {"order": 3, "error": "Incorrect order ID"},
        ],
    )
    result = api("status_many", [1, 2, 3])
    assert result[1].status is OrderState.COMPLETED
    assert result[2].status is OrderState.IN_PROGRESS
    assert result[3] == ItemError("Incorrect order ID")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Pending", OrderState.PENDING),
        ("in_progress", OrderState.IN_PROGRESS),
        ("inprogress", OrderState.IN_PROGRESS),
        ("In Progress", OrderState.IN_PROGRESS),
        ("IN-PROGRESS", OrderState.IN_PROGRESS),
        (" processing ", OrderState.PROCESSING),
        ("Complete", OrderState.COMPLETED),
        ("COMPLETED", OrderState.COMPLETED),
        ("partial", OrderState.PARTIAL),
        ("Partially Completed", OrderState.PARTIAL),
        ("CANCELLED", OrderState.CANCELED),
        ("cancelled", OrderState.CANCELED),
        ("Canceled", OrderState.CANCELED),
        ("Refunded", OrderState.CANCELED),
    ],
)
def test_order_status_spellings(api: Api, fake: FakePanel, raw: str, expected: OrderState) -> None:
    fake.on("status", {"status": raw})
    assert api("status", 1).status is expected


@pytest.mark.parametrize("raw", ["Success", "Done", "Failed", "Active", "Queued", "", 3, None])
def test_unknown_order_status_is_not_guessed(api: Api, fake: FakePanel, raw: object) -> None:
    fake.on("status", {"status": raw, "charge": "1"})
    status = api("status", 1)
    expected_raw = "null" if raw is None else str(raw)
    assert status.status == UnknownStatus(raw=expected_raw, kind="order")
    assert status.charge == Decimal("1")
    with pytest.raises(UnknownStatusError) as info:
        _ = status.state
    assert info.value.raw == expected_raw


def test_unknown_status_in_a_multi_answer_spares_the_others(api: Api, fake: FakePanel) -> None:
    fake.on("status", {"1": {"status": "Completed"}, "2": {"status": "Weird State"}})
    result = api("status_many", [1, 2])
    assert result[1].status is OrderState.COMPLETED
    assert result[2].status == UnknownStatus("Weird State", "order")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pending", RefillState.PENDING),
        ("In_Progress", RefillState.IN_PROGRESS),
        ("complete", RefillState.COMPLETED),
        ("REJECTED", RefillState.REJECTED),
        ("error", RefillState.ERROR),
    ],
)
def test_refill_status_spellings(
    api: Api, fake: FakePanel, raw: str, expected: RefillState
) -> None:
    fake.on("refill_status", {"status": raw})
    assert api("refill_status", 1) is expected


def test_unknown_refill_status(api: Api, fake: FakePanel) -> None:
    fake.on("refill_status", [{"refill": 1, "status": "Processing"}])
    assert api("refill_status_many", [1]) == {1: UnknownStatus("Processing", "refill")}


def test_neworder_error_key(api: Api, fake: FakePanel) -> None:
    fake.on("add", {"error": "neworder.error.not_enough_funds"})
    with pytest.raises(NotEnoughFunds) as info:
        api("add", 1, "https://x", 100)
    assert info.value.message == "neworder.error.not_enough_funds"


@pytest.mark.parametrize(
    "body",
    [
        {"error": True, "message": "Not enough funds on balance"},
        {"error": {"message": "Not enough funds on balance", "code": 12}},
        {"error": "  Not enough funds on balance "},
    ],
)
def test_error_variants(api: Api, fake: FakePanel, body: dict[str, object]) -> None:
    fake.on("add", body)
    with pytest.raises(NotEnoughFunds, match=r"^Not enough funds on balance$"):
        api("add", 1, "https://x", 100)


def test_null_error_is_not_an_error(api: Api, fake: FakePanel) -> None:
    fake.on("add", {"order": 77, "error": None})
    fake.on("balance", {"balance": "1", "currency": "EUR", "error": ""})
    assert api("add", 1, "https://x", 100) == 77
    assert api("balance").currency == "EUR"


def test_utf8_bom_and_whitespace(api: Api, fake: FakePanel) -> None:
    fake.on("add", Text(b'\xef\xbb\xbf\n  {"order": 5}\n', content_type="text/html"))
    assert api("add", 1, "https://x", 100) == 5


def test_one_id_answered_like_a_single_call(api: Api, fake: FakePanel) -> None:
    fake.on("status", {"status": "Completed", "charge": "2"}, {"error": "Incorrect order ID"})
    result = api("status_many", [8])
    assert result[8].status is OrderState.COMPLETED
    assert api("status_many", [8]) == {8: ItemError("Incorrect order ID")}


def test_single_status_answered_keyed_by_id(api: Api, fake: FakePanel) -> None:
    fake.on("status", {"8": {"status": "Pending"}})
    assert api("status", 8).status is OrderState.PENDING


def test_multi_whole_request_error_raises(api: Api, fake: FakePanel) -> None:
    fake.on("status", {"error": "Incorrect order ID"})
    with pytest.raises(OrderNotFound):
        api("status_many", [1, 2])  # not per id when several were asked


def test_refill_and_cancel_keyed_objects(api: Api, fake: FakePanel) -> None:
    fake.on("refill", {"1": "11", "2": {"error": "Refill is disabled for this service"}})
    fake.on("cancel", {"1": {"cancel": 1}, "2": {"cancel": {"error": "Incorrect order ID"}}})
    refills = api("refill_many", [1, 2])
    assert refills[1] == 11
    assert isinstance(refills[2], ItemError)
    assert type(refills[2].exception) is ApiError
    assert api("cancel", [1, 2]) == {1: True, 2: ItemError("Incorrect order ID")}


def test_refill_id_as_number(api: Api, fake: FakePanel) -> None:
    fake.on("refill", {"refill": 12})
    assert api("refill", 1) == 12
