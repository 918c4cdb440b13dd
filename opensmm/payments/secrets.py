"""Payment methods' credentials, encrypted at rest and never shown back.

A credential (a Stripe secret key, a PayPal client secret, an IPN secret…) is stored as a
Fernet token under a key derived from the panel's secret by HKDF-SHA256 with this module's
purpose label (``opensmm.security.secrets`` does the work for every value kept encrypted at
rest). After saving, the pages and the CLI show only ``masked(value)``: a "set" marker and
the last 4 characters.

Changing the panel's secret makes stored credentials unreadable (``SecretError``): staff
enter them again. Nothing here logs, and no message or repr holds a credential.
"""

from __future__ import annotations

from opensmm.security import secrets as sealed
from opensmm.security.secrets import MIN_SECRET_LENGTH, PREFIX, SecretError

__all__ = ["MIN_SECRET_LENGTH", "PREFIX", "SecretError", "decrypt", "encrypt", "masked"]

# The labels this purpose has always had: credentials stored before the move to
# opensmm.security.secrets still decrypt.
PURPOSE = sealed.Purpose(salt=b"opensmm/payments/credentials",
                         info=b"payment method credentials v1")


def encrypt(value: str, panel_secret: str) -> str:
    """The credential as stored: ``v1:`` and a Fernet token."""
    return sealed.encrypt(value, panel_secret, PURPOSE)


def decrypt(stored: str, panel_secret: str) -> str:
    """The credential back; ``SecretError`` if it was not encrypted with this panel's secret
    or was altered."""
    return sealed.decrypt(stored, panel_secret, PURPOSE)


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
