"""Canonical order, refill and subscription states, and the spellings panels use for them.

A panel's status string is compared case-insensitively, ignoring spaces, ``_`` and ``-``
(``"In Progress"``, ``"in_progress"``, ``"inprogress"`` and ``"IN-PROGRESS"`` are one
spelling). Only the spellings in the tables below are mapped; anything else becomes an
:class:`UnknownStatus` carrying the raw string, so that the caller can alert on it instead
of acting on a guess (``"Success"``, ``"Done"``, ``"Failed"``, ``"Active"`` for an order...
are deliberately *not* mapped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeVar

from opensmm.client.errors import UnknownStatusError
from opensmm.orders import statuses as st
from opensmm.refills import statuses as rs

__all__ = [
    "ORDER_SPELLINGS",
    "REFILL_SPELLINGS",
    "SUBSCRIPTION_SPELLINGS",
    "OrderState",
    "RefillState",
    "SubscriptionState",
    "UnknownStatus",
    "normalize_spelling",
    "parse_order_state",
    "parse_refill_state",
    "parse_subscription_state",
    "require_known",
]

StatusKind = Literal["order", "refill", "subscription"]


class OrderState(StrEnum):
    """An order's state, spelled as the API v2 spells it."""

    # The words are the panel's own (opensmm.orders.statuses, spec §4).
    PENDING = st.PENDING
    IN_PROGRESS = st.IN_PROGRESS
    PROCESSING = st.PROCESSING
    COMPLETED = st.COMPLETED
    PARTIAL = st.PARTIAL
    CANCELED = st.CANCELED

    @property
    def is_final(self) -> bool:
        """``True`` for the states an order never leaves: Completed, Partial, Canceled."""
        return self in (OrderState.COMPLETED, OrderState.PARTIAL, OrderState.CANCELED)


class RefillState(StrEnum):
    """A refill's state."""

    PENDING = rs.PENDING
    IN_PROGRESS = rs.IN_PROGRESS
    COMPLETED = rs.COMPLETED
    REJECTED = rs.REJECTED
    ERROR = rs.ERROR

    @property
    def is_final(self) -> bool:
        """``True`` for Completed, Rejected and Error."""
        return self in (RefillState.COMPLETED, RefillState.REJECTED, RefillState.ERROR)


class SubscriptionState(StrEnum):
    """A subscription's state."""

    ACTIVE = st.ACTIVE
    PAUSED = st.PAUSED
    COMPLETED = st.COMPLETED
    EXPIRED = st.EXPIRED
    CANCELED = st.CANCELED

    @property
    def is_final(self) -> bool:
        """``True`` for Completed, Expired and Canceled."""
        return self in (
            SubscriptionState.COMPLETED,
            SubscriptionState.EXPIRED,
            SubscriptionState.CANCELED,
        )


@dataclass(frozen=True, slots=True)
class UnknownStatus:
    """A status string that maps to no known state. Never guessed: report it.

    ``raw`` is exactly what the panel sent (``"null"`` for a JSON null, the number's text
    for a number); ``kind`` says which table it was looked up in.
    """

    raw: str
    kind: StatusKind

    def __str__(self) -> str:
        return self.raw


# Normalized spelling -> state. Keep docs/client.md's table in step with these.
ORDER_SPELLINGS: dict[str, OrderState] = {
    "pending": OrderState.PENDING,
    "inprogress": OrderState.IN_PROGRESS,
    "processing": OrderState.PROCESSING,
    "completed": OrderState.COMPLETED,
    "complete": OrderState.COMPLETED,
    "partial": OrderState.PARTIAL,
    "partiallycompleted": OrderState.PARTIAL,
    "canceled": OrderState.CANCELED,
    "cancelled": OrderState.CANCELED,
    "refunded": OrderState.CANCELED,
}

REFILL_SPELLINGS: dict[str, RefillState] = {
    "pending": RefillState.PENDING,
    "inprogress": RefillState.IN_PROGRESS,
    "completed": RefillState.COMPLETED,
    "complete": RefillState.COMPLETED,
    "rejected": RefillState.REJECTED,
    "error": RefillState.ERROR,
}

SUBSCRIPTION_SPELLINGS: dict[str, SubscriptionState] = {
    "active": SubscriptionState.ACTIVE,
    "paused": SubscriptionState.PAUSED,
    "completed": SubscriptionState.COMPLETED,
    "complete": SubscriptionState.COMPLETED,
    "expired": SubscriptionState.EXPIRED,
    "canceled": SubscriptionState.CANCELED,
    "cancelled": SubscriptionState.CANCELED,
}

_IGNORED = re.compile(r"[\s_\-]+")

S = TypeVar("S", OrderState, RefillState, SubscriptionState)


def normalize_spelling(raw: str) -> str:
    """Lower-case ``raw`` and drop whitespace, ``_`` and ``-``: the lookup key."""
    return _IGNORED.sub("", raw.casefold())


def _raw_text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(value: object, table: dict[str, S], kind: StatusKind) -> S | UnknownStatus:
    raw = _raw_text(value)
    if isinstance(value, str):
        state = table.get(normalize_spelling(value))
        if state is not None:
            return state
    return UnknownStatus(raw=raw, kind=kind)


def parse_order_state(value: object) -> OrderState | UnknownStatus:
    """Map a panel's order status to an :class:`OrderState`, or :class:`UnknownStatus`."""
    return _lookup(value, ORDER_SPELLINGS, "order")


def parse_refill_state(value: object) -> RefillState | UnknownStatus:
    """Map a panel's refill status to a :class:`RefillState`, or :class:`UnknownStatus`."""
    return _lookup(value, REFILL_SPELLINGS, "refill")


def parse_subscription_state(value: object) -> SubscriptionState | UnknownStatus:
    """Map a subscription status to a :class:`SubscriptionState`, or :class:`UnknownStatus`."""
    return _lookup(value, SUBSCRIPTION_SPELLINGS, "subscription")


def require_known(state: S | UnknownStatus) -> S:
    """Return ``state``, or raise :class:`UnknownStatusError` if it is unknown."""
    if isinstance(state, UnknownStatus):
        raise UnknownStatusError(state.raw, state.kind)
    return state
