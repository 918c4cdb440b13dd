"""From what an upstream panel says to our statuses (spec §4), never by guessing.

The client already maps the loose spellings panels use (``in_progress``, ``CANCELLED``,
``Refunded``...) to its states and keeps anything else as ``UnknownStatus``. What is left
here: subscriptions, which share the ``status`` action with orders but have their own
scale, and the check that a known state is one our order may take.
"""

from __future__ import annotations

from opensmm.client import (
    OrderState,
    OrderStatus,
    RefillState,
    SubscriptionState,
    SubscriptionStatus,
    UnknownStatus,
    parse_subscription_state,
)
from opensmm.client.statuses import normalize_spelling
from opensmm.fulfillment.protocol import Observation, RefillObservation
from opensmm.orders import statuses as st
from opensmm.refills import statuses as rs

# Subscription statuses a panel answers that the client's subscription table lacks:
# our own panels (and many others) answer "Pending" before a subscription starts.
_SUBSCRIPTION_EXTRA = {"pending": st.PENDING}


def subscription_status(raw: object) -> str | None:
    """A subscription's status from the raw text, or None if unknown."""
    if isinstance(raw, str) and normalize_spelling(raw) in _SUBSCRIPTION_EXTRA:
        return _SUBSCRIPTION_EXTRA[normalize_spelling(raw)]
    state = parse_subscription_state(raw)
    if isinstance(state, SubscriptionState):
        return st.canonical(state.value, st.SUBSCRIPTION_STATUSES)
    return None


def order_observation(answer: OrderStatus, *, subscription: bool) -> Observation:
    """Our view of one ``status`` answer."""
    state = answer.status
    raw = state.raw if isinstance(state, UnknownStatus) else state.value
    if subscription:
        # The order table read it; read the raw text again on the subscription scale.
        status = subscription_status(raw)
    elif isinstance(state, OrderState):
        status = st.canonical(state.value, st.ORDER_STATUSES)
    else:
        status = None
    return Observation(
        status=status,
        raw_status=raw,
        start_count=answer.start_count if answer.start_count and answer.start_count > 0 else None,
        remains=answer.remains,
        charge=answer.charge,
    )


def subscription_observation(answer: SubscriptionStatus) -> Observation:
    """Our view of a subscription's ``status`` answer: its status and the posts it counts
    (its remains are not ours: a subscription's are the posts still to come)."""
    state = answer.status
    raw = state.raw if isinstance(state, UnknownStatus) else state.value
    return Observation(status=subscription_status(raw), raw_status=raw, posts=answer.posts)


def refill_observation(state: RefillState | UnknownStatus) -> RefillObservation:
    if isinstance(state, UnknownStatus):
        return RefillObservation(status=None, raw_status=state.raw)
    return RefillObservation(
        status=st.canonical(state.value, rs.REFILL_STATUSES), raw_status=state.value
    )
