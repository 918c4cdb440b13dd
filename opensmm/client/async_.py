"""The asynchronous client, over ``httpx.AsyncClient``.

Same methods as :class:`~opensmm.client.sync.Client`, awaited; same requests, same parsing
(both delegate to :mod:`opensmm.client.protocol`)."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import TypeVar, Unpack

import httpx

from opensmm.client import protocol
from opensmm.client.errors import ClientError, InvalidArgument
from opensmm.client.models import Balance, ItemError, OrderStatus, Service, SubscriptionStatus
from opensmm.client.protocol import AddFields, Batch, Call
from opensmm.client.statuses import RefillState, UnknownStatus

__all__ = ["AsyncClient"]

T = TypeVar("T")
R = TypeVar("R")


class AsyncClient:
    """The asyncio client for any panel speaking API v2 (see :class:`~opensmm.client.Client`).

    ``url`` is the panel's API endpoint (``https://panel.example/api/v2``), ``key`` the API
    key (never logged, never in a message). ``timeout`` (seconds or an ``httpx.Timeout``)
    applies to every request; by default 30 s (10 s to connect), or the injected client's
    own timeout. ``http_client`` is an ``httpx.AsyncClient`` to share (connection pooling); it
    is not closed by :meth:`aclose`.

    Every method raises a :class:`~opensmm.client.errors.ClientError` subclass on failure.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = protocol.check_url(url)
        self._key = protocol.check_key(key)
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise InvalidArgument("http_client must be an httpx.AsyncClient")
        injected = http_client.timeout if http_client is not None else None
        self._timeout = protocol.resolve_timeout(timeout, injected)
        self._owns_http = http_client is None
        self._http = (
            http_client if http_client is not None else httpx.AsyncClient(timeout=self._timeout)
        )

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return protocol.describe(type(self).__name__, self._url, self._timeout)

    async def aclose(self) -> None:
        """Close the connection pool (unless it was injected)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- transport ---------------------------------------------------------------------

    async def _run(self, call: Call[T]) -> T:
        protocol.log.debug("sending %s to %s", call.action, self._url)
        try:
            response = await self._http.post(
                self._url,
                data=protocol.form(self._key, call),
                headers=protocol.headers(),
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise protocol.transport_error(exc, call.action, self._url, secret=self._key) from exc
        return protocol.read_response(call, response, secret=self._key)

    async def _run_batch(self, batch: Batch[R]) -> dict[int, R]:
        results: dict[int, R] = {}
        for call in batch.calls:
            try:
                answered = await self._run(call)
                results.update(answered)
            except ClientError as exc:
                protocol.attach_partial(exc, results)
                raise
        return results

    # --- actions -----------------------------------------------------------------------

    async def services(self) -> list[Service]:
        """The panel's services."""
        return await self._run(protocol.services())

    async def add(
        self, service: int, link: str, quantity: int | None = None, **fields: Unpack[AddFields]
    ) -> int:
        """Place an order; returns the panel's order id.

        ``fields`` are the type's own fields (API v2 §3), drip-feed ``runs``/``interval``
        and subscription fields, passed through; ``extra={...}`` adds any other field.
        """
        return await self._run(protocol.add(service, link, quantity, fields))

    async def status(self, order: int) -> OrderStatus:
        """One order's status."""
        return await self._run(protocol.status(order))

    async def status_many(self, orders: Iterable[int]) -> dict[int, OrderStatus | ItemError]:
        """Several orders' statuses, by id; lists over 100 ids are sent 100 at a time."""
        return await self._run_batch(protocol.status_many(orders))

    async def subscription_status(self, order: int) -> SubscriptionStatus:
        """One subscription order's status."""
        return await self._run(protocol.subscription_status(order))

    async def subscription_status_many(
        self, orders: Iterable[int]
    ) -> dict[int, SubscriptionStatus | ItemError]:
        """Several subscription orders' statuses, by id."""
        return await self._run_batch(protocol.subscription_status_many(orders))

    async def refill(self, order: int) -> int:
        """Request a refill; returns the refill id."""
        return await self._run(protocol.refill(order))

    async def refill_many(self, orders: Iterable[int]) -> dict[int, int | ItemError]:
        """Request refills; maps each order id to its refill id or the refusal."""
        return await self._run_batch(protocol.refill_many(orders))

    async def refill_status(self, refill: int) -> RefillState | UnknownStatus:
        """One refill's state."""
        return await self._run(protocol.refill_status(refill))

    async def refill_status_many(
        self, refills: Iterable[int]
    ) -> dict[int, RefillState | UnknownStatus | ItemError]:
        """Several refills' states, by refill id."""
        return await self._run_batch(protocol.refill_status_many(refills))

    async def cancel(self, orders: Iterable[int]) -> dict[int, bool | ItemError]:
        """Request cancellation; maps each order id to ``True`` (accepted) or the refusal."""
        return await self._run_batch(protocol.cancel(orders))

    async def balance(self) -> Balance:
        """The account's balance."""
        return await self._run(protocol.balance())
