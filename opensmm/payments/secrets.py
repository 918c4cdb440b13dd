"""Payment methods' credentials, encrypted at rest and never shown back.

A credential (a Stripe secret key, a PayPal client secret, an IPN secret…) is stored as a
Fernet token (AES-128-CBC + HMAC-SHA256, with its own timestamp and random IV) under a key
derived from the panel's secret by HKDF-SHA256 with a purpose label, so the same panel
secret that signs CSRF tokens is never used directly as an encryption key. After saving, the
pages and the CLI show only ``masked(value)``: a "set" marker and the last 4 characters.

Changing the panel's secret makes stored credentials unreadable (``SecretError``): staff
enter them again. Nothing here logs, and no message or repr holds a credential.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1:"
_SALT = b"opensmm/payments/credentials"
_INFO = b"payment method credentials v1"
MIN_SECRET_LENGTH = 32


class SecretError(Exception):
    """A credential that cannot be encrypted or decrypted (the message holds no value)."""


def _fernet(panel_secret: str) -> Fernet:
    if not isinstance(panel_secret, str) or len(panel_secret) < MIN_SECRET_LENGTH:
        raise SecretError(f"the panel's secret must be at least {MIN_SECRET_LENGTH} characters")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        panel_secret.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str, panel_secret: str) -> str:
    """The credential as stored: ``v1:`` and a Fernet token."""
    if not isinstance(value, str):
        raise SecretError("a credential is text")
    token = _fernet(panel_secret).encrypt(value.encode("utf-8"))
    return PREFIX + token.decode("ascii")


def decrypt(stored: str, panel_secret: str) -> str:
    """The credential back; ``SecretError`` if it was not encrypted with this panel's secret
    or was altered."""
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        raise SecretError("not an encrypted credential")
    try:
        plain = _fernet(panel_secret).decrypt(stored[len(PREFIX) :].encode("ascii"))
        return plain.decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretError(
            "a stored credential cannot be decrypted (was the panel's secret changed?)"
        ) from None


def masked(value: str | None) -> str:
    """What staff see of a saved credential: ``"set, ends in …abcd"``, or ``"not set"``.

    A credential of 8 characters or fewer shows no characters at all: its last 4 would be
    half of it.
    """
    if not value:
        return "not set"
    if len(value) <= 8:
        return "set"
    return f"set, ends in …{value[-4:]}"


def encrypt_settings(
    settings: dict[str, str], secret_keys: frozenset[str], panel_secret: str
) -> dict[str, str]:
    """A method's settings as stored: the credential keys encrypted, the others as they are."""
    return {
        key: (encrypt(value, panel_secret) if key in secret_keys and value else value)
        for key, value in settings.items()
    }


def decrypt_settings(
    stored: dict[str, str], secret_keys: frozenset[str], panel_secret: str
) -> dict[str, str]:
    return {
        key: (decrypt(value, panel_secret) if key in secret_keys and value else value)
        for key, value in stored.items()
    }
