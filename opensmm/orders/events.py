"""What an order's history says, as a code plus parameters (see ``opensmm.events``).

Every row of an order's history is one of these: the customer's and staff's actions, the
status changes with their refunds, and the worker's own rows (sent, held, alerts, cancels
forwarded, held orders resolved) for the order and its refills. An upstream's message or a
held order's reason is a parameter: shown as the worker wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opensmm.events import Message, event
from opensmm.i18n import N_

PLACED = event("order.placed", N_("Placed for {charge} ({units} units)"))

# One row for what one update changed, in this order; only the parts that changed.
STATUS_CHANGED = N_("status {old} → {new}")
REMAINS_CHANGED = N_("remains {old} → {new}")
REFUNDED = N_("refunded {amount}")
START_COUNT = N_("start count {count}")


def _changes(params: Mapping[str, Any]) -> Message:
    parts = []
    status = params.get("status")
    if isinstance(status, list) and len(status) == 2:
        parts.append(Message(STATUS_CHANGED, {"old": Message(str(status[0])),
                                              "new": Message(str(status[1]))}))
    remains = params.get("remains")
    if isinstance(remains, list) and len(remains) == 2:
        parts.append(Message(REMAINS_CHANGED, {"old": remains[0], "new": remains[1]}))
    if "refunded" in params:
        parts.append(Message(REFUNDED, {"amount": params["refunded"]}))
    if "start_count" in params:
        parts.append(Message(START_COUNT, {"count": params["start_count"]}))
    return Message("", parts=tuple(parts))


# params: status [old, new], remains [old, new], refunded (an amount), start_count.
CHANGED = event("order.changed", "", build=_changes)
CANCEL_REQUESTED = event(
    "order.cancel_requested", N_("Cancel requested; forwarded to the provider")
)
REFILL_REQUESTED = event("order.refill_requested", N_("Refill {refill} requested"))
# By the worker, for a service with auto-refill (opensmm.refills.auto).
AUTO_REFILL_REQUESTED = event(
    "order.auto_refill_requested", N_("Refill {refill} requested by auto-refill")
)
REFILL_STATUS = event(
    "order.refill_status", N_("Refill {refill}: {old} → {new}"), words=("old", "new")
)

# --- the worker (opensmm.fulfillment) and held orders settled by a person -------------------
HELD = event("order.held", N_("Held: {reason}"))
RESENDING = event(
    "order.resending",
    N_("In doubt ({reason}); resending with the same idempotency key (try {attempt})"),
)
ALERT = event("order.alert", N_("Alert: {message}"))
SENT = event("order.sent", N_("Sent to {by}: upstream order {upstream}"))
# A route refused it in a way that proves nothing was created: on to the next route.
ROUTED = event(
    "order.routed",
    N_("Moved from route {old} to route {new} (provider {provider}, service {service}): {reason}"),
)
CANCEL_FORWARDED = event("order.cancel_forwarded", N_("Cancel forwarded to {by}: accepted"))
CANCEL_REFUSED = event("order.cancel_refused", N_("{by} refused the cancel: {reason}"))
RESOLVED_EXISTS = event(
    "order.resolved_exists", N_("Resolved: exists upstream as order {upstream}")
)
RESOLVED_CANCELED = event(
    "order.resolved_canceled", N_("Resolved: never created upstream; canceled as asked")
)
RESOLVED_RESEND = event(
    "order.resolved_resend", N_("Resolved: never created upstream; to be sent again")
)
REFILL_SENT = event(
    "refill.sent", N_("Refill {refill} sent to {by}: upstream refill {upstream}")
)
REFILL_HELD = event("refill.held", N_("Refill {refill} held: {reason}"))
REFILL_ALERT = event("refill.alert", N_("Refill {refill} alert: {message}"))
REFILL_RESOLVED_EXISTS = event(
    "refill.resolved_exists", N_("Refill {refill} resolved: exists upstream as refill {upstream}")
)
REFILL_RESOLVED_RESEND = event(
    "refill.resolved_resend",
    N_("Refill {refill} resolved: never opened upstream; to be sent again"),
)

# --- subscriptions (opensmm.subscriptions) -------------------------------------------------
# On the subscription: a post and the order made for it, or the post it could not pay for.
POST_ORDERED = event("order.subscription_post", N_("Post {number}: order {order}"))
POST_UNPAID = event(
    "order.subscription_post_unpaid",
    N_("Post {number}: not enough funds; the subscription is paused"),
)
# On a post's order: which subscription it serves.
POST_OF = event(
    "order.subscription_post_of",
    N_("Post {number} of subscription {subscription}: placed for {charge} ({units} units)"),
)
