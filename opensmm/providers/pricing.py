"""The price of a service bought from a provider.

One rule: ``rate = upstream rate × (100 + markup) / 100``, rounded **up** to 0.00001.
Rounding up means we never sell below cost plus markup: ``0.33333`` at 10 % is
``0.366663`` exactly, sold at ``0.36667``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.money import MAX_AMOUNT, QUANTUM

MAX_MARKUP_PERCENT = Decimal(100_000)


def check_markup(markup_percent: Decimal) -> Decimal:
    if markup_percent < 0:
        raise DomainError(N_('The markup must not be negative: we never sell below cost'))
    if markup_percent > MAX_MARKUP_PERCENT:
        raise DomainError(N_('The markup must be at most {max} percent'), max=MAX_MARKUP_PERCENT)
    return markup_percent


def price_with_markup(upstream_rate: Decimal, markup_percent: Decimal) -> Decimal:
    """Our rate for an upstream rate: cost plus markup, rounded up to 0.00001."""
    if upstream_rate < 0:
        raise DomainError(N_("The provider's rate is negative"))
    check_markup(markup_percent)
    rate = (upstream_rate * (Decimal(100) + markup_percent) / Decimal(100)).quantize(
        QUANTUM, rounding=ROUND_CEILING
    )
    if rate >= MAX_AMOUNT:
        raise DomainError(N_('The price would be too large'))
    return rate
