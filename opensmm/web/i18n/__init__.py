"""The pages' languages and translator, on the gettext catalogs of :mod:`opensmm.i18n`
(kept here so that pages import them from one web place)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opensmm.i18n.languages import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Language,
    from_accept_language,
    language,
)
from opensmm.i18n.translate import Translator

if TYPE_CHECKING:
    from opensmm.web.context import Web


def panel_default_language(web: Web) -> str:
    """The panel's default language: the one seam for the panel setting
    ``default_language`` (issue 10, "Panel settings"), English until it is wired."""
    del web  # the settings will be read through it
    return DEFAULT_LANGUAGE


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Language",
    "Translator",
    "from_accept_language",
    "language",
    "panel_default_language",
]
