"""Numbers, money and dates in the reader's language, with Babel (CLDR): one rule for all.

Money: the panel's one currency (``OPENSMM_CURRENCY``), the locale's pattern (where the
sign and the symbol go, the separators, the bidi marks of right-to-left languages), and
**at least two decimals, up to five where the amount needs them** (amounts are exact to
0.00001): ``$0.90``, ``$98.515``, ``$0.00125``; in Arabic ``0.90 US$`` and ``-0.005 US$``
each after CLDR's right-to-left mark (U+200F), so that a negative amount reads right to left
as "minus 0.005 dollars" inside an Arabic sentence, never ``$0.005-``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal

from opensmm.money import QUANTUM


def _exact(amount: Decimal) -> Decimal:
    """At most five places, without trailing zeros (the pattern adds them back to two)."""
    quantized = amount.quantize(QUANTUM) + 0  # + 0: never "-0"
    if quantized == quantized.to_integral_value():
        return quantized.quantize(Decimal(1))
    return quantized.normalize()


def money(amount: Decimal, currency: str, lang: str) -> str:
    """``Decimal("98.515")`` → ``$98.515`` (en), U+200F ``98.515 US$`` (ar)."""
    return format_currency(
        _exact(amount), currency, locale=lang, decimal_quantization=False
    )


def decimal(value: Decimal | int, lang: str, *, min_places: int = 0) -> str:
    """A plain number (a rate without currency, a percent's figure, a provider's balance in
    its own currency): grouped per locale, ``min_places`` decimals at least, up to five."""
    if isinstance(value, int):
        return format_decimal(value, locale=lang)
    pattern = "#,##0" + ("." + "0" * min_places if min_places else "")
    return format_decimal(_exact(value), format=pattern, locale=lang, decimal_quantization=False)


def number(value: int, lang: str) -> str:
    return format_decimal(value, locale=lang)


def when(moment: datetime, lang: str) -> str:
    """A date and time (UTC, as stored) in the locale's short form: ``11/30/26, 2:03 PM``,
    ``30/11/2026، 2:03 م`` (with right-to-left marks after the day and the month)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, "short", tzinfo=UTC, locale=lang)
