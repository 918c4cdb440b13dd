"""CSRF tokens and signed flash messages, with HMAC-SHA256 over the app's secret.

A CSRF token is bound to the visitor: to the session cookie once logged in, before that to
a random "anonymous" cookie. A page from another site cannot read either cookie, so it
cannot compute the token a form must carry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _sign(secret: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_token(secret: bytes, binding: str) -> str:
    return _sign(secret, "csrf", binding)


def csrf_valid(secret: bytes, binding: str | None, token: str | None) -> bool:
    if not binding or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, binding), token)


def sign_flash(secret: bytes, messages: list[tuple[str, str]]) -> str:
    """``[(kind, text)]`` → a cookie value that only this app could have written."""
    payload = base64.urlsafe_b64encode(json.dumps(messages).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(secret, 'flash', payload)}"


def read_flash(secret: bytes, cookie: str | None) -> list[tuple[str, str]]:
    if not cookie or "." not in cookie:
        return []
    payload, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(_sign(secret, "flash", payload), signature):
        return []
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [
        (str(item[0]), str(item[1]))
        for item in data
        if isinstance(item, list) and len(item) == 2
    ][:5]
