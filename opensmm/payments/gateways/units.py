"""Exact amounts in each gateway's units.

Amounts are ``Decimal`` everywhere. Stripe counts in a currency's minor unit (cents for
USD, yen for JPY, fils for KWD); PayPal writes decimal strings with the currency's number
of places. Neither ever goes through a float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from opensmm.payments.gateways.base import GatewayError

# ISO 4217 currencies without minor units, as Stripe and PayPal treat them.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# PayPal does not accept decimals in these (its currency codes page).
PAYPAL_ZERO_DECIMAL = frozenset({"HUF", "JPY", "TWD"})

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_DECIMAL_STRING = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,8})?$")
# The largest amount any gateway is asked for (the panel's money column holds < 10**12).
MAX_GATEWAY_AMOUNT = Decimal(10) ** 11


class AmountError(GatewayError):
    """An amount or currency that a gateway cannot be asked for (a caller's mistake)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def currency_code(value: str) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise AmountError("a currency is three letters")
    return value.upper()


def exponent(currency: str) -> int:
    """Digits after the decimal point in the currency's minor unit (ISO 4217)."""
    code = currency_code(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def check_amount(amount: Decimal, places: int) -> Decimal:
    """A positive, finite amount with at most ``places`` decimals, below the bound."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise AmountError("the amount is not a number")
    if amount <= 0:
        raise AmountError("the amount must be positive")
    if amount >= MAX_GATEWAY_AMOUNT:
        raise AmountError("the amount is too large")
    quantum = Decimal(1).scaleb(-places)
    if amount != amount.quantize(quantum):
        raise AmountError(f"the amount has more than {places} decimal places for its currency")
    return amount.quantize(quantum)


def to_minor(amount: Decimal, currency: str) -> int:
    """``Decimal("12.34")``, ``"usd"`` → ``1234``; refuses what the currency cannot hold."""
    places = exponent(currency)
    exact = check_amount(amount, places)
    return int(exact.scaleb(places))


def from_minor(units: int, currency: str) -> Decimal:
    """``1234``, ``"usd"`` → ``Decimal("12.34")``."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise AmountError("a minor-unit amount is a whole number")
    places = exponent(currency)
    return Decimal(units).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def paypal_places(currency: str) -> int:
    code = currency_code(currency)
    return 0 if code in PAYPAL_ZERO_DECIMAL else exponent(code)


def to_decimal_string(amount: Decimal, places: int) -> str:
    """``Decimal("10.5")``, 2 → ``"10.50"``: the string gateways expect, never a float."""
    return format(check_amount(amount, places), "f")


def parse_decimal_string(value: object) -> Decimal:
    """A gateway's decimal string (``"10.50"``) or JSON number, exactly; ``GatewayError``
    (via ``AmountError``) for anything else."""
    if isinstance(value, bool):
        raise AmountError("not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise AmountError("not an amount")
        return value
    if not isinstance(value, str) or not _DECIMAL_STRING.match(value.strip()):
        raise AmountError("not an amount")
    try:
        return Decimal(value.strip())
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise AmountError("not an amount") from None
