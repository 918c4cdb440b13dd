"""Values encrypted at rest under a key derived from the panel's secret.

A value (a payment method's credential, a user's TOTP secret…) is stored as a Fernet token
(AES-128-CBC + HMAC-SHA256, with its own timestamp and random IV) under a key derived from
the panel's secret by HKDF-SHA256 with a ``Purpose`` (a salt and a label): each use gets its
own key, so the panel secret that signs CSRF tokens is never used directly as an encryption
key, and a value encrypted for one purpose cannot be decrypted as another's.

Changing the panel's secret makes stored values unreadable (``SecretError``). Nothing here
logs, and no message or repr holds a value.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

PREFIX = "v1:"
MIN_SECRET_LENGTH = 32


class SecretError(Exception):
    """A value that cannot be encrypted or decrypted (the message holds no value)."""


@dataclass(frozen=True)
class Purpose:
    """What a key is for: HKDF's salt and info. A new purpose gets new labels."""

    salt: bytes
    info: bytes

    def __repr__(self) -> str:
        return f"Purpose({self.info.decode('ascii', 'replace')})"


def panel_secret_text(secret: str | bytes) -> str:
    """The panel's secret as text (``SecretKey.get()`` gives bytes)."""
    return secret.decode("utf-8") if isinstance(secret, bytes) else secret


def _fernet(panel_secret: str, purpose: Purpose) -> Fernet:
    # cryptography (its compiled core is megabytes) loads with the first secret used, not
    # with every process that imports a module which may one day need one (idle memory).
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if not isinstance(panel_secret, str) or len(panel_secret) < MIN_SECRET_LENGTH:
        raise SecretError(f"the panel's secret must be at least {MIN_SECRET_LENGTH} characters")
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=purpose.salt, info=purpose.info
    ).derive(panel_secret.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str, panel_secret: str, purpose: Purpose) -> str:
    """The value as stored: ``v1:`` and a Fernet token."""
    if not isinstance(value, str):
        raise SecretError("the value to encrypt is text")
    token = _fernet(panel_secret, purpose).encrypt(value.encode("utf-8"))
    return PREFIX + token.decode("ascii")


def decrypt(stored: str, panel_secret: str, purpose: Purpose) -> str:
    """The value back; ``SecretError`` if it was not encrypted with this panel's secret for
    this purpose, or was altered."""
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        raise SecretError("not an encrypted value")
    from cryptography.fernet import InvalidToken

    try:
        plain = _fernet(panel_secret, purpose).decrypt(stored[len(PREFIX) :].encode("ascii"))
        return plain.decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretError(
            "a stored value cannot be decrypted (was the panel's secret changed?)"
        ) from None
