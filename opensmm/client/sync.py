"""The synchronous client, over ``httpx.Client``."""

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

__all__ = ["Client"]

T = TypeVar("T")
R = TypeVar("R")


class Client:
    """A client for any panel speaking API v2.

    ``url`` is the panel's API endpoint (``https://panel.example/api/v2``), ``key`` the API
    key (never logged, never in a message). ``timeout`` (seconds or an ``httpx.Timeout``)
    applies to every request; by default 30 s (10 s to connect), or the injected client's
    own timeout. ``http_client`` is an ``httpx.Client`` to share (connection pooling); it
    is not closed by :meth:`close`.

    Every method raises a :class:`~opensmm.client.errors.ClientError` subclass on failure.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._url = protocol.check_url(url)
        self._key = protocol.check_key(key)
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise InvalidArgument("http_client must be an httpx.Client")
        injected = http_client.timeout if http_client is not None else None
        self._timeout = protocol.resolve_timeout(timeout, injected)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=self._timeout)

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return protocol.describe(type(self).__name__, self._url, self._timeout)

    def close(self) -> None:
        """Close the connection pool (unless it was injected)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------

    def _run(self, call: Call[T]) -> T:
        protocol.log.debug("sending %s to %s", call.action, self._url)
        try:
            response = self._http.post(
                self._url,
                data=protocol.form(self._key, call),
                headers=protocol.headers(),
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise protocol.transport_error(exc, call.action, self._url, secret=self._key) from exc
        return protocol.read_response(call, response, secret=self._key)

    def _run_batch(self, batch: Batch[R]) -> dict[int, R]:
        results: dict[int, R] = {}
        for call in batch.calls:
            try:
                answered = self._run(call)
                results.update(answered)
            except ClientError as exc:
                protocol.attach_partial(exc, results)
                raise
        return results

    # --- actions -----------------------------------------------------------------------

    def services(self) -> list[Service]:
        """The panel's services."""
        return self._run(protocol.services())

    def add(
        self, service: int, link: str, quantity: int | None = None, **fields: Unpack[AddFields]
    ) -> int:
        """Place an order; returns the panel's order id.

        ``fields`` are the type's own fields (API v2 §3), drip-feed ``runs``/``interval``
        and subscription fields, passed through; ``extra={...}`` adds any other field.
        """
        return self._run(protocol.add(service, link, quantity, fields))

    def status(self, order: int) -> OrderStatus:
        """One order's status."""
        return self._run(protocol.status(order))

    def status_many(self, orders: Iterable[int]) -> dict[int, OrderStatus | ItemError]:
        """Several orders' statuses, by id; lists over 100 ids are sent 100 at a time."""
        return self._run_batch(protocol.status_many(orders))

    def subscription_status(self, order: int) -> SubscriptionStatus:
        """One subscription order's status."""
        return self._run(protocol.subscription_status(order))

    def subscription_status_many(
        self, orders: Iterable[int]
    ) -> dict[int, SubscriptionStatus | ItemError]:
        """Several subscription orders' statuses, by id."""
        return self._run_batch(protocol.subscription_status_many(orders))

    def refill(self, order: int) -> int:
        """Request a refill; returns the refill id."""
        return self._run(protocol.refill(order))

    def refill_many(self, orders: Iterable[int]) -> dict[int, int | ItemError]:
        """Request refills; maps each order id to its refill id or the refusal."""
        return self._run_batch(protocol.refill_many(orders))

    def refill_status(self, refill: int) -> RefillState | UnknownStatus:
        """One refill's state."""
        return self._run(protocol.refill_status(refill))

    def refill_status_many(
        self, refills: Iterable[int]
    ) -> dict[int, RefillState | UnknownStatus | ItemError]:
        """Several refills' states, by refill id."""
        return self._run_batch(protocol.refill_status_many(refills))

    def cancel(self, orders: Iterable[int]) -> dict[int, bool | ItemError]:
        """Request cancellation; maps each order id to ``True`` (accepted) or the refusal."""
        return self._run_batch(protocol.cancel(orders))

    def balance(self) -> Balance:
        """The account's balance."""
        return self._run(protocol.balance())
