"""``Translator``: the callable pages and templates translate with.

``t("Orders")``, ``t("Order {id} placed", id=5)``: the English text is the gettext msgid,
``{names}`` are filled after translation (``str.format``). ``t.ngettext("{n} order",
"{n} orders", n)`` picks the plural form of the language (Arabic has six) and fills ``{n}``.
``t.error(exc)`` shows a :class:`~opensmm.errors.DomainError` from its template and
parameters, never by parsing its English.
"""

from __future__ import annotations

import gettext
from decimal import Decimal
from typing import Any

from babel import Locale

from opensmm.errors import DomainError
from opensmm.i18n import Term, catalogs, formatting
from opensmm.i18n.languages import Language, language


def _fill(translated: str, english: str, values: dict[str, Any]) -> str:
    if not values:
        return translated
    try:
        return translated.format(**values)
    except (KeyError, IndexError, ValueError):
        # A translation with a broken placeholder (the catalog test forbids it): English.
        return english.format(**values)


class Translator:
    def __init__(self, lang: Language | str, currency: str | None = None) -> None:
        self.lang = lang if isinstance(lang, Language) else language(lang)
        # The panel's currency, for amounts inside messages (``money``).
        self.currency = currency
        self._catalog: gettext.NullTranslations = catalogs.load(self.lang.code)

    def money(self, amount: Decimal | str) -> str:
        """An amount inside a message, by the one money rule: with the panel's currency
        when this translator knows it, else the bare figure in this language."""
        value = Decimal(amount)
        if self.currency:
            return formatting.money(value, self.currency, self.lang.code)
        return formatting.decimal(value, self.lang.code, min_places=2)

    def __call__(self, text: str, /, **values: Any) -> str:
        translated = self._catalog.gettext(text) if text else text
        return _fill(translated, text, self._terms(values))

    gettext = __call__

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """``t.ngettext("{n} order", "{n} orders", n)``: ``{n}`` is filled with ``n``."""
        translated = self._catalog.ngettext(singular, plural, n)
        values.setdefault("n", n)
        return _fill(translated, singular if n == 1 else plural, self._terms(values))

    def plural_forms(self, singular: str, plural: str) -> dict[str, str]:
        """For a script counting in the page: each CLDR plural category of the language
        (what ``Intl.PluralRules`` answers) with its translation, ``{n}`` left to fill."""
        rules = Locale.parse(self.lang.locale).plural_form
        forms: dict[str, str] = {}
        for n in range(200):  # every category shows up below 200 in every language here
            forms.setdefault(rules(n), self._catalog.ngettext(singular, plural, n))
        return forms

    def error(self, exc: DomainError) -> str:
        """A refusal in this language, from its template and parameters."""
        return self(exc.template, **exc.params)

    def message(self, text: str | DomainError) -> str:
        """A refusal or a fixed message (kept for pages that pass a string)."""
        if isinstance(text, DomainError):
            return self.error(text)
        return self(text)

    def _terms(self, values: dict[str, Any]) -> dict[str, Any]:
        """Parameters that are themselves messages (a status, a field's label) translated."""
        if not any(isinstance(v, Term) for v in values.values()):
            return values
        return {k: self(v) if isinstance(v, Term) else v for k, v in values.items()}
