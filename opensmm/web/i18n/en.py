"""English. The templates' strings are already English, so this catalog only holds the
places where the words on the page differ from the key (none so far): keeping it makes
adding a language a matter of copying ``ar.py``."""

from __future__ import annotations

MESSAGES: dict[str, str] = {}
