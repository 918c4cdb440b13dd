"""The Stripe library's transport on httpx (``stripe_checkout``): a module of its own, so
that the library is imported only when a Stripe gateway is built."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import stripe

from opensmm.payments.gateways.http import new_client


class HttpxClient(stripe.HTTPClient):
    """The library's transport, on one synchronous httpx client with our timeout.

    (The library's own ``HTTPXClient`` also opens an async client and hands httpx the form
    body in a deprecated way.) A transport failure is the library's ``APIConnectionError``.
    """

    name = "httpx"

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._client = new_client(timeout)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        try:
            response = self._client.request(
                method, url, headers=dict(headers or {}), content=post_data
            )
        except httpx.HTTPError:
            # The library's own error, so that it handles it as its transports' failures.
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                "Stripe could not be reached", should_retry=True
            ) from None
        return response.content, response.status_code, response.headers

    def close(self) -> None:
        self._client.close()
