"""The languages the pages speak, and how a visitor's is chosen."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # a gettext catalog under opensmm/i18n/locale/ and a Babel (CLDR) locale
    name: str  # in its own language, for the switch
    direction: str  # "ltr" or "rtl"


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "ltr"),
    "ar": Language("ar", "العربية", "rtl"),
}
DEFAULT_LANGUAGE = "en"


def language(code: str | None) -> Language:
    return LANGUAGES.get(code or "", LANGUAGES[DEFAULT_LANGUAGE])


def from_accept_language(
    header: str, default: str = DEFAULT_LANGUAGE, enabled: Collection[str] = LANGUAGES.keys()
) -> str:
    """The first language of an ``Accept-Language`` header that we have and the panel
    enabled, else ``default``."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        code, _, params = part.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        tag = code.strip().lower()[:2]
        if tag in LANGUAGES and tag in enabled and quality > 0:
            weighted.append((-quality, position, tag))
    return min(weighted)[2] if weighted else default
