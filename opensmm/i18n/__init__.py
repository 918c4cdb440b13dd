"""Translations shared by every door: the message markers and the gettext catalogs.

``N_("Order {id}: charge")`` marks an English message for the catalogs where it is defined
(Babel extracts it) and returns it unchanged: the message is stored or raised in English,
as a code plus parameters, and translated only where a person reads it.

A parameter that is itself a message (a status, a field's label) is wrapped in ``Term``:
it reads as the plain English string everywhere, and a translator translates it too when
the whole message is shown (``Translator.error``, ``ctx.t``).
"""

from __future__ import annotations


def N_(message: str) -> str:  # the name gettext tools look for
    """Mark ``message`` for translation without translating it here."""
    return message


class Term(str):
    """A string that is a catalog message (its English msgid), translated where shown."""

    __slots__ = ()


__all__ = ["N_", "Term"]
