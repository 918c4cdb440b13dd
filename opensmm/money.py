"""Exact money.

All amounts (balances, rates, charges, refunds) have five decimal places, the precision
the API v2 shows (``"charge": "0.27819"``). They are ``Decimal`` in Python and whole
numbers of 0.00001 in the database, so SQL arithmetic (``balance - :x``) is exact on SQLite
and PostgreSQL alike.

Rounding rules, in one place:
- a charge is rounded half-up to five places (``charge_for``);
- a partial refund is rounded down (``refund_share``), so that refunds can never add up to
  more than was charged.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

SCALE = 5
QUANTUM = Decimal(1).scaleb(-SCALE)  # 0.00001
UNITS_PER_RATE = 1000  # rates are per 1000 units
# The largest amount the database column holds, with room for sums of many entries.
MAX_AMOUNT = Decimal(10) ** 12


class MoneyError(ValueError):
    """A value that is not an amount of money."""


def parse_money(value: object) -> Decimal:
    """Parse a user-supplied amount: finite, at most five decimals, within bounds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise MoneyError("not an amount")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError("not an amount") from exc
    if not amount.is_finite():
        raise MoneyError("not an amount")
    # The bound first: quantizing "1e30" needs more digits than the context has and would
    # raise InvalidOperation instead of this clear refusal.
    if abs(amount) >= MAX_AMOUNT:
        raise MoneyError("amount too large")
    if amount != amount.quantize(QUANTUM, rounding=ROUND_DOWN):
        raise MoneyError(f"at most {SCALE} decimal places")
    return amount.quantize(QUANTUM) + 0  # + 0: "-0" is plain zero


def charge_for(rate: Decimal, units: int) -> Decimal:
    """What ``units`` cost at ``rate`` per 1000, rounded half-up to five places."""
    return (rate * units / UNITS_PER_RATE).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def refund_share(charge: Decimal, remains: int, units: int) -> Decimal:
    """The part of ``charge`` for ``remains`` undelivered of ``units``, rounded down."""
    if units <= 0 or remains <= 0:
        return Decimal(0).quantize(QUANTUM)
    remains = min(remains, units)
    return (charge * remains / units).quantize(QUANTUM, rounding=ROUND_DOWN)


def to_minor(amount: Decimal) -> int:
    """Decimal → whole number of 0.00001, refusing anything that would be rounded."""
    scaled = amount.scaleb(SCALE)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"at most {SCALE} decimal places: {amount}")
    return int(scaled)


def from_minor(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-SCALE).quantize(QUANTUM)


_UNITS = 10**SCALE


def format_minor(minor: int) -> str:
    """``format_money`` of a whole number of 0.00001, without making a ``Decimal`` (the hot
    reads answer straight from the database's integers)."""
    whole, frac = divmod(abs(minor), _UNITS)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{f'{frac:05d}'.rstrip('0').ljust(2, '0')}"


def format_money(amount: Decimal) -> str:
    """``0.9`` → ``"0.90"``, ``100.84292`` → ``"100.84292"``: at least two decimals."""
    text = f"{amount.quantize(QUANTUM) + 0:f}".rstrip("0")  # + 0: never "-0.00"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"
