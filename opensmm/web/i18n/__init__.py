"""Translations: English source strings are the keys (as with gettext), each language has a
dict from those strings to its own. A string missing from a catalog shows in English, and
a test checks that every string the templates use has its Arabic translation.

Domain refusals arrive as English sentences (the API's messages); the catalogs translate the
fixed ones exactly and the ones with a number through patterns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opensmm.web.i18n.ar import MESSAGES as AR_MESSAGES
from opensmm.web.i18n.ar import PATTERNS as AR_PATTERNS
from opensmm.web.i18n.en import MESSAGES as EN_MESSAGES


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in its own language, for the switch
    direction: str  # "ltr" or "rtl"
    messages: Mapping[str, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "ltr", EN_MESSAGES, ()),
    "ar": Language("ar", "العربية", "rtl", AR_MESSAGES, AR_PATTERNS),
}
DEFAULT_LANGUAGE = "en"


def language(code: str | None) -> Language:
    return LANGUAGES.get(code or "", LANGUAGES[DEFAULT_LANGUAGE])


def from_accept_language(header: str) -> str:
    """The first language of an ``Accept-Language`` header that we have, else English."""
    for part in header.split(",")[:20]:
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


class Translator:
    """``_("Orders")``, ``_("Order {id} placed", id=5)``: the callable the templates use."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang

    def __call__(self, text: str, **values: Any) -> str:
        translated = self.lang.messages.get(text, text)
        if values:
            try:
                return translated.format(**values)
            except (KeyError, IndexError, ValueError):
                return text.format(**values)
        return translated

    def message(self, text: str) -> str:
        """A domain message (a refusal): exact translation, else a pattern, else English."""
        if text in self.lang.messages:
            return self.lang.messages[text]
        for pattern, template in self.lang.patterns:
            match = pattern.match(text)
            if match:
                return template.format(*match.groups())
        return text
