"""Typed results: frozen dataclasses. Money is always ``Decimal``, never ``float``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from opensmm.client.errors import ApiError, classify_api_error
from opensmm.client.statuses import (
    OrderState,
    SubscriptionState,
    UnknownStatus,
    require_known,
)

__all__ = [
    "Balance",
    "ItemError",
    "OrderStatus",
    "Service",
    "SubscriptionStatus",
]

_EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Service:
    """One entry of the ``services`` list.

    ``rate`` is the price per 1000 units (per package for the flat types). ``extra`` holds
    the fields this client does not interpret (``average_time``...), as the panel sent them.
    """

    id: int
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str | None
    extra: Mapping[str, object] = field(default_factory=lambda: _EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """The answer to ``status`` for one order. ``status`` is never guessed."""

    charge: Decimal | None
    start_count: int | None
    status: OrderState | UnknownStatus
    remains: int | None
    currency: str | None

    @property
    def state(self) -> OrderState:
        """The known state; raises :class:`~opensmm.client.errors.UnknownStatusError`."""
        return require_known(self.status)


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    """The answer to ``status`` for a subscription order."""

    status: SubscriptionState | UnknownStatus
    charge: Decimal | None
    posts: int | None
    expiry: str | None
    currency: str | None

    @property
    def state(self) -> SubscriptionState:
        """The known state; raises :class:`~opensmm.client.errors.UnknownStatusError`."""
        return require_known(self.status)


@dataclass(frozen=True, slots=True)
class Balance:
    """The account's balance."""

    amount: Decimal
    currency: str | None


@dataclass(frozen=True, slots=True)
class ItemError:
    """One id of a multi call that the panel refused, e.g. ``{"error": "Incorrect order ID"}``.

    ``message`` is the panel's text; :attr:`exception` is the matching :class:`ApiError`
    subclass (``OrderNotFound``, ``RefillNotFound``...), ready to inspect or raise.
    """

    message: str

    @property
    def exception(self) -> ApiError:
        return classify_api_error(self.message)

    @property
    def error_class(self) -> type[ApiError]:
        return type(self.exception)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class MalformedItem(ItemError):
    """One id of a multi call whose entry could not be read (``"charge": "N/A"``, a status
    that is not a string...). Only that id is affected: the other entries of the answer are
    parsed as usual. ``message`` says what was wrong; ``entry`` is the raw entry (as JSON
    text, cut to 200 characters). It is an :class:`ItemError` so that code written for
    refusals stays safe; check for it first to tell a broken entry from a refusal.
    """

    entry: str = ""
