"""The languages the pages speak, and how a visitor's is chosen.

Adding a language: one line in ``LANGUAGES`` and its catalog
(``python -m opensmm.i18n.catalogs init <code>``, see docs/translating.md). A language whose
catalog is missing is not offered (``catalogs.has_catalog``) and reads as English if asked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Language:
    code: str  # the catalog's directory under opensmm/i18n/locale/, the pages' lang=""
    name: str  # in its own language, for the switch
    direction: str  # "ltr" or "rtl"
    # The Babel (CLDR) locale that formats numbers, money and dates; the code when empty.
    babel_locale: str = field(default="")
    # Other primary tags of Accept-Language that mean this language ("in": old Indonesian).
    aliases: tuple[str, ...] = ()

    @property
    def locale(self) -> str:
        return self.babel_locale or self.code


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "ltr"),
    "ar": Language("ar", "العربية", "rtl"),
    "ru": Language("ru", "Русский", "ltr"),
    "tr": Language("tr", "Türkçe", "ltr"),
    "hi": Language("hi", "हिन्दी", "ltr"),
    "pt": Language("pt", "Português (Brasil)", "ltr", babel_locale="pt_BR"),
    "es": Language("es", "Español", "ltr"),
    "id": Language("id", "Bahasa Indonesia", "ltr", aliases=("in",)),
}
DEFAULT_LANGUAGE = "en"
_BY_TAG = {tag: lang.code for lang in LANGUAGES.values() for tag in (lang.code, *lang.aliases)}


def language(code: str | None) -> Language:
    return LANGUAGES.get(code or "", LANGUAGES[DEFAULT_LANGUAGE])


def locale_of(code: str) -> str:
    """The Babel locale of a language code (``pt`` → ``pt_BR``); English for an unknown
    code."""
    return language(code).locale


def from_accept_language(
    header: str, default: str = DEFAULT_LANGUAGE, enabled: Collection[str] = LANGUAGES.keys()
) -> str:
    """The first language of an ``Accept-Language`` header that we have and the panel
    enabled, else ``default``. Only the primary tag counts: ``pt-BR``, ``pt-PT`` and ``pt``
    all mean Brazilian Portuguese, the one Portuguese we ship."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        code = _BY_TAG.get(tag.strip().lower().replace("_", "-").split("-")[0][:8])
        if code is not None and code in enabled and quality > 0:
            weighted.append((-quality, position, code))
    return min(weighted)[2] if weighted else default
