"""Checking an opensmm panel's status webhooks (spec §7) on the reseller's side.

    from opensmm.client.webhooks import verify
    if not verify(SECRET, raw_body, request.headers["X-Opensmm-Signature"]):
        return 400

``verify`` recomputes the HMAC-SHA256 of ``"<t>.<raw body>"`` under the key's webhook
secret, compares it in constant time and refuses a ``t`` more than five minutes away.
"""

from opensmm.webhooks.signing import HEADER, verify

__all__ = ["HEADER", "verify"]
