"""One JSON-over-HTTP call to a gateway, with a timeout and one typed, safe error."""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import certifi
import httpx

from opensmm.payments.gateways.base import GatewayError

# A gateway's answer larger than this is refused while it is read.
MAX_ANSWER_BYTES = 2 * 1024 * 1024


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every gateway client: building one loads the CA
    bundle, which costs more than the rest of a gateway's construction."""
    return ssl.create_default_context(cafile=certifi.where())


def new_client(timeout: float) -> httpx.Client:
    # No redirects: an API that redirects a POST is misconfigured, and following would
    # send the credentials' headers elsewhere.
    return httpx.Client(
        timeout=httpx.Timeout(timeout), follow_redirects=False, verify=tls_context()
    )


def call_json(
    client: httpx.Client,
    gateway: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    data: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    accept_status: frozenset[int] = frozenset(),
) -> tuple[int, Any]:
    """``(status, parsed JSON with Decimal numbers)``; ``GatewayError`` for a network
    failure, a timeout, an HTTP error (unless in ``accept_status``) or an answer that is
    not JSON.

    The error message names the gateway, the HTTP status and at most the gateway's own
    short error code, never a header, a body or a credential.
    """
    try:
        with client.stream(
            method, url, headers=dict(headers or {}), content=content, data=data, auth=auth
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise GatewayError(f"{gateway} answered too much data")
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise GatewayError(f"{gateway} did not answer in time") from None
    except httpx.HTTPError:
        raise GatewayError(f"{gateway} could not be reached") from None
    raw = b"".join(chunks)
    try:
        # Numbers exactly (Decimal), never through a float.
        body = json.loads(raw, parse_float=Decimal) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
        if response.is_success:
            raise GatewayError(f"{gateway} answered something that is not JSON") from None
    status = response.status_code
    if response.is_success or status in accept_status:
        return status, body
    code = _error_code(body)
    detail = f": {code}" if code else ""
    retryable = status >= 500 or status in {408, 409, 425, 429}
    raise GatewayError(
        f"{gateway} refused the request (HTTP {status}{detail})", retryable=retryable
    )


def _error_code(body: Any) -> str | None:
    """The gateway's short error name (``INVALID_REQUEST``, ``invalid_client``), if it has
    the shape of a code: never free text, which may echo what was sent."""
    if not isinstance(body, dict):
        return None
    for key in ("name", "error", "code", "errorCode"):
        value = body.get(key)
        if isinstance(value, str) and value.replace("_", "").replace("-", "").isalnum():
            return value[:60]
    return None
