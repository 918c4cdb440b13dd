"""Numbers, money and dates in the reader's language, with Babel (CLDR): one rule for all.

Money: the panel's one currency (``OPENSMM_CURRENCY``), the locale's pattern (where the
sign and the symbol go, the separators), and **at least two decimals, up to five where the
amount needs them** (amounts are exact to 0.00001): ``$0.90``, ``$98.515``, ``$0.00125``.

Right to left (Arabic), an amount is one left-to-right unit inside the sentence: it is
wrapped in Unicode isolates (U+2066 ... U+2069, which work in HTML, in plain text and in
JSON read by the page's script) and its minus is the locale's own sign (CLDR's "left-to-right
mark, hyphen"), so that a negative amount shows ``-0.005 US$``: never ``$0.005-``, and the
symbol is never split into ``$US``.

Each language formats with its Babel locale (``Language.locale``: Brazilian Portuguese is
``pt_BR``) and CLDR's default digits for it (Latin digits, also in Arabic and Hindi, as
those locales default to); Hindi groups by lakh and crore (``1,23,456.50``). The API never
uses these: its answers keep the spec's plain format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, get_minus_sign_symbol

from opensmm.i18n.languages import language, locale_of
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
    locale = locale_of(lang)
    text = format_currency(_exact(amount), currency, locale=locale, decimal_quantization=False)
    if language(lang).direction != "rtl":
        return text
    if amount < 0:
        text = text.replace("-", get_minus_sign_symbol(locale), 1)
    return f"{LRI}{text}{PDI}"


def decimal(value: Decimal | int, lang: str, *, min_places: int = 0) -> str:
    """A plain number (a rate without currency, a percent's figure, a provider's balance in
    its own currency): grouped per locale, ``min_places`` decimals at least, up to five."""
    locale = locale_of(lang)
    if isinstance(value, int):
        return format_decimal(value, locale=locale)
    pattern = _integer_pattern(locale) + ("." + "0" * min_places if min_places else "")
    return format_decimal(_exact(value), format=pattern, locale=locale,
                          decimal_quantization=False)


@cache
def _integer_pattern(locale: str) -> str:
    """The locale's grouping (``#,##0``; ``#,##,##0`` in Hindi), without its decimals."""
    pattern = str(Locale.parse(locale).decimal_formats[None].pattern)
    return pattern.split(";", maxsplit=1)[0].split(".", maxsplit=1)[0]


def number(value: int, lang: str) -> str:
    return format_decimal(value, locale=locale_of(lang))


def when(moment: datetime, lang: str) -> str:
    """A date and time (UTC, as stored) in the locale's short form: ``11/30/26, 2:03 PM``,
    ``30/11/2026، 2:03 م`` (with right-to-left marks after the day and the month)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, "short", tzinfo=UTC, locale=locale_of(lang))
