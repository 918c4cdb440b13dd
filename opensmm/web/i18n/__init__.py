"""The pages' languages and translator, on the gettext catalogs of :mod:`opensmm.i18n`
(kept here so that pages import them from one web place)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opensmm.i18n.catalogs import has_catalog
from opensmm.i18n.languages import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Language,
    from_accept_language,
    language,
)
from opensmm.i18n.translate import Translator
from opensmm.panel_settings import service as panel_settings

if TYPE_CHECKING:
    from opensmm.web.context import Web


def panel_default_language(web: Web) -> str:
    """The panel setting ``default_language``, as this process last read it (pages read the
    settings on every render, so a change made elsewhere is seen from the next page on)."""
    code = str(panel_settings.last_known(web.db)["default_language"])
    return code if code in LANGUAGES and has_catalog(code) else DEFAULT_LANGUAGE


def enabled_languages(web: Web) -> list[str]:
    """The panel setting ``languages``: the codes a visitor may see and pick (those with a
    catalog: a language enabled before its catalog is installed is not offered yet)."""
    return offered_codes(panel_settings.last_known(web.db)["languages"])


def offered_codes(codes: list[str]) -> list[str]:
    """The codes of the setting ``languages`` that the pages can speak, in its order."""
    return [code for code in codes if code in LANGUAGES and has_catalog(code)] or [
        DEFAULT_LANGUAGE]


def offered(codes: list[str]) -> list[Language]:
    """The switcher's entries: :func:`offered_codes` as languages."""
    return [LANGUAGES[code] for code in offered_codes(codes)]


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Language",
    "Translator",
    "enabled_languages",
    "from_accept_language",
    "language",
    "offered",
    "offered_codes",
    "panel_default_language",
]
