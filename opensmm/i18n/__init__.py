"""Translations shared by every door: the message marker and (later) the gettext catalogs.

``N_("Order {id}: charge")`` marks an English message for the catalogs where it is defined
(Babel extracts it) and returns it unchanged: the message is stored or raised in English,
as a code plus parameters, and translated only where a person reads it.
"""

from __future__ import annotations


def N_(message: str) -> str:  # the name gettext tools look for
    """Mark ``message`` for translation without translating it here."""
    return message
