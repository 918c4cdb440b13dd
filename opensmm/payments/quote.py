"""What a deposit is worth: the amount paid, less the method's fee, plus its bonus.

One rule for the page that shows it live, the payment when it is settled and the tests:
a fee is rounded half-up (like a charge), a bonus down (never more than promised).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from opensmm.money import QUANTUM

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Terms:
    fee_percent: Decimal = Decimal(0)
    bonus_percent: Decimal = Decimal(0)
    bonus_from: Decimal | None = None


@dataclass(frozen=True)
class Quote:
    paid: Decimal
    fee: Decimal
    bonus: Decimal

    @property
    def credit(self) -> Decimal:
        """What the balance receives."""
        return self.paid - self.fee + self.bonus


def quote(paid: Decimal, terms: Terms) -> Quote:
    if paid <= 0:
        zero = Decimal(0).quantize(QUANTUM)
        return Quote(zero, zero, zero)
    fee = (paid * terms.fee_percent / HUNDRED).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    fee = min(fee, paid)
    bonus = Decimal(0).quantize(QUANTUM)
    if terms.bonus_percent > 0 and (terms.bonus_from is None or paid >= terms.bonus_from):
        bonus = (paid * terms.bonus_percent / HUNDRED).quantize(QUANTUM, rounding=ROUND_DOWN)
    return Quote(paid.quantize(QUANTUM), fee, bonus)


def share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``total × part / whole``, rounded down, and all of it when ``part`` covers ``whole``."""
    if whole <= 0 or part >= whole:
        return total
    return (total * part / whole).quantize(QUANTUM, rounding=ROUND_DOWN)
