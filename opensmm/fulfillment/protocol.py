"""The one interface every fulfillment mode implements, and the plain data it speaks.

The worker (``opensmm.fulfillment.worker``) owns the database: it claims orders, turns
them into the frozen dataclasses below, calls a :class:`Fulfillment` *outside* any
transaction, and records what came back through ``apply_update``. A mode never touches
the database, so a slow or broken upstream can never hold a lock.

Three modes (``opensmm.catalog.service.FULFILLMENT_MODES``):

- ``manual`` (:mod:`opensmm.fulfillment.manual`): staff set the status; nothing is sent;
- ``provider`` (:mod:`opensmm.fulfillment.provider`): forwarded to an upstream panel;
- ``simulator`` (:mod:`opensmm.fulfillment.simulator`): orders move by themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class Outbound:
    """An order to send: what the upstream needs to create it."""

    order_id: int
    service: int  # the upstream's service id (ours for the simulator)
    type: str
    link: str
    quantity: int | None  # None for types whose quantity is implied (packages, lines)
    units: int
    runs: int | None = None
    interval: int | None = None
    # The type's own fields: comments, usernames, subscription settings, ...
    fields: Mapping[str, Any] = field(default_factory=dict)
    # Sent as ``idempotency_key`` (spec §7): an upstream that honours it (an opensmm) makes
    # a resend of this order the same order; others ignore an unknown parameter.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Tracked:
    """An order already sent, as the worker last recorded it."""

    order_id: int
    upstream_id: int
    status: str
    remains: int
    start_count: int | None
    units: int
    runs: int | None
    subscription: bool
    sent_at: datetime


@dataclass(frozen=True)
class Accepted:
    """The upstream created it: here is its id."""

    upstream_id: int


@dataclass(frozen=True)
class NotSent:
    """The upstream certainly did not create it (refused, or never reached).

    ``retry``: the same request may be sent again later (the upstream was down, or out of
    funds); otherwise a person must look (the upstream refused this very order).
    ``provider_problem``: the whole provider is failing, not just this order: back off.
    ``reroute``: the refusal proves nothing was created *and* says nothing against the
    order itself (no funds there, the key refused, the service unknown or disabled
    there): another route may take it (``opensmm.fulfillment.routing``).
    """

    reason: str
    retry: bool
    provider_problem: bool = False
    funds: bool = False
    reroute: bool = False


@dataclass(frozen=True)
class InDoubt:
    """The call may or may not have created it (timeout after sending, dropped connection,
    garbage answer). Never resent automatically: held for a person."""

    reason: str


SendOutcome = Accepted | NotSent | InDoubt


@dataclass(frozen=True)
class Observation:
    """What the upstream says about one order.

    ``status`` is our canonical spelling, or None when the upstream's ``raw_status`` maps
    to no known status (an alert: the order is left as it is, never guessed).
    ``next_change_at``: when a new status is expected (the simulator knows), so that the
    worker need not look before.
    """

    status: str | None
    raw_status: str
    start_count: int | None = None
    remains: int | None = None
    next_change_at: datetime | None = None
    # What the upstream charges us for the order, when its answer tells.
    charge: Decimal | None = None
    # A subscription's posts so far, when the upstream counts them (opensmm answers
    # ``posts``); None when it does not say.
    posts: int | None = None


@dataclass(frozen=True)
class ItemProblem:
    """The upstream answered the call but not for this id (``Incorrect order ID``...)."""

    reason: str


@dataclass(frozen=True)
class CancelAnswer:
    """The upstream's answer to a cancel: accepted (the status will tell the outcome) or
    refused with ``reason``. ``observation``: the outcome, when known at once."""

    accepted: bool
    reason: str = ""
    observation: Observation | None = None


@dataclass(frozen=True)
class OutboundRefill:
    refill_id: int
    order_id: int
    order_upstream_id: int


@dataclass(frozen=True)
class TrackedRefill:
    refill_id: int
    upstream_id: int
    status: str
    sent_at: datetime


@dataclass(frozen=True)
class RefillObservation:
    status: str | None  # None: unknown, see ``raw_status``
    raw_status: str
    next_change_at: datetime | None = None


class UpstreamFailure(Exception):
    """A whole call failed (down, garbage, timeout): the provider is backed off.

    ``funds``: the upstream said it has not enough funds; ``in_doubt``: it may have acted.
    """

    def __init__(self, reason: str, *, funds: bool = False, in_doubt: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.funds = funds
        self.in_doubt = in_doubt


class Fulfillment(Protocol):
    """How orders of one mode (and, for ``provider``, one provider) get done.

    ``remote``: calls can end in doubt, so the worker persists "sending" before each
    ``send`` and the upstream id after it. Lists passed in hold at most 100 items.
    Methods other than ``send`` raise :class:`UpstreamFailure` when the whole call fails.
    """

    mode: str
    name: str  # who shows in order events: "provider:NAME", "simulator", ...
    remote: bool

    def send(self, order: Outbound) -> SendOutcome: ...

    def poll(self, orders: Sequence[Tracked]) -> dict[int, Observation | ItemProblem]: ...

    def cancel(self, orders: Sequence[Tracked]) -> dict[int, CancelAnswer]: ...

    def send_refill(self, refill: OutboundRefill) -> SendOutcome: ...

    def poll_refills(
        self, refills: Sequence[TrackedRefill]
    ) -> dict[int, RefillObservation | ItemProblem]: ...

    def close(self) -> None: ...
