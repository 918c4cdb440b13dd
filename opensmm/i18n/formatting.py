"""Numbers, money and dates in the reader's language, with Babel (CLDR): one rule for all.

Money: the panel's one currency (``OPENSMM_CURRENCY``), the locale's pattern (where the
sign and the symbol go, the separators), and **at least two decimals, up to five where the
amount needs them** (amounts are exact to 0.00001): ``$0.90``, ``$98.515``, ``$0.00125``.

Right to left (Arabic), an amount is one left-to-right unit inside the sentence: it is
wrapped in Unicode isolates (U+2066 ... U+2069, which work in HTML, in plain text and in
JSON read by the page's script) and its minus is the locale's own sign (CLDR's "left-to-right
mark, hyphen"), so that a negative amount shows ``-0.005 US$``: never ``$0.005-``, and the
symbol is never split into ``$US``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, get_minus_sign_symbol

from opensmm.i18n.languages import language
from opensmm.money import QUANTUM

LRI, PDI = "\u2066", "\u2069"  # left-to-right isolate, pop directional isolate


def _exact(amount: Decimal) -> Decimal:
    """At most five places, without trailing zeros (the pattern adds them back to two)."""
    quantized = amount.quantize(QUANTUM) + 0  # + 0: never "-0"
    if quantized == quantized.to_integral_value():
        return quantized.quantize(Decimal(1))
    return quantized.normalize()


def money(amount: Decimal, currency: str, lang: str) -> str:
    """``Decimal("98.515")`` → ``$98.515`` (en); in Arabic an isolated ``98.515 US$``."""
    text = format_currency(_exact(amount), currency, locale=lang, decimal_quantization=False)
    if language(lang).direction != "rtl":
        return text
    if amount < 0:
        text = text.replace("-", get_minus_sign_symbol(lang), 1)
    return f"{LRI}{text}{PDI}"


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
