"""API keys: random, URL-safe, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import string

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 40  # ~238 bits; letters and digits only, so it survives any query string
PREFIX_LENGTH = 6


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_key(value: str) -> bool:
    """Cheap screen before any query: a real key is 32-128 letters and digits."""
    return 32 <= len(value) <= 128 and value.isascii() and value.isalnum()
