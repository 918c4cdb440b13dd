"""The ``X-Opensmm-Signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
under the key's webhook secret (the scheme Stripe's webhooks made familiar). A receiver
recomputes it over the raw body and refuses a ``t`` more than five minutes old."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Opensmm-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs ``body`` under ``secret``, recently enough."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not given:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    expected = signature(secret, body, int(stamp)).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
