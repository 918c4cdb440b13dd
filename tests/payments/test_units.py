"""Exact amounts in the gateways' units: Decimal ↔ minor units and decimal strings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmm.payments.gateways.units import (
    AmountError,
    exponent,
    from_minor,
    parse_decimal_string,
    paypal_places,
    to_decimal_string,
    to_minor,
)

CURRENCIES = ["USD", "EUR", "JPY", "KWD", "CLP", "BHD", "GBP", "usd"]


@given(
    currency=st.sampled_from(CURRENCIES),
    units=st.integers(min_value=1, max_value=10**10),
)
def test_minor_units_round_trip(currency: str, units: int) -> None:
    amount = from_minor(units, currency)
    assert amount.as_tuple().exponent == -exponent(currency)
    assert to_minor(amount, currency) == units


@given(
    currency=st.sampled_from(CURRENCIES),
    amount=st.decimals(
        min_value=Decimal("0.001"), max_value=Decimal("99999999"), places=3, allow_nan=False
    ),
)
def test_decimal_to_minor_is_exact_or_refused(currency: str, amount: Decimal) -> None:
    places = exponent(currency)
    fits = amount == amount.quantize(Decimal(1).scaleb(-places))
    if fits:
        assert from_minor(to_minor(amount, currency), currency) == amount
    else:
        with pytest.raises(AmountError):
            to_minor(amount, currency)


def test_examples() -> None:
    assert to_minor(Decimal("12.34"), "usd") == 1234
    assert to_minor(Decimal("1500"), "JPY") == 1500
    assert to_minor(Decimal("1.234"), "KWD") == 1234
    assert from_minor(5, "USD") == Decimal("0.05")
    assert to_decimal_string(Decimal("10.5"), paypal_places("USD")) == "10.50"
    assert to_decimal_string(Decimal("1500"), paypal_places("HUF")) == "1500"
    assert parse_decimal_string("10.50") == Decimal("10.50")


@pytest.mark.parametrize("amount", ["0", "-1", "NaN", "Infinity", "1e12", "0.001", "100000000000"])
def test_refused_amounts(amount: str) -> None:
    with pytest.raises(AmountError):
        to_minor(Decimal(amount), "USD")


@pytest.mark.parametrize("value", ["1e400", "ten", "", " ", "1,5", True, None, 1.5, [], "0x10"])
def test_refused_gateway_amounts(value: object) -> None:
    with pytest.raises(AmountError):
        parse_decimal_string(value)


@pytest.mark.parametrize("currency", ["", "US", "USDT", "U$D", "١٢٣", None])
def test_refused_currencies(currency: object) -> None:
    with pytest.raises(AmountError):
        to_minor(Decimal(1), currency)  # type: ignore[arg-type]
