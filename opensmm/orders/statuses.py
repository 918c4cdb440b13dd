"""Order and subscription statuses, spelled as the API v2 spells them (spec §4)."""

from __future__ import annotations

PENDING = "Pending"
IN_PROGRESS = "In progress"
PROCESSING = "Processing"
COMPLETED = "Completed"
PARTIAL = "Partial"
CANCELED = "Canceled"

ORDER_STATUSES = (PENDING, IN_PROGRESS, PROCESSING, COMPLETED, PARTIAL, CANCELED)
# Statuses in which an order still needs delivery.
RUNNING = (PENDING, IN_PROGRESS, PROCESSING)
# Statuses after which a refill may be asked for.
FINISHED = (COMPLETED, PARTIAL)

# Subscriptions run on their own scale.
ACTIVE = "Active"
PAUSED = "Paused"
EXPIRED = "Expired"
SUBSCRIPTION_STATUSES = (PENDING, ACTIVE, PAUSED, COMPLETED, EXPIRED, CANCELED)
SUBSCRIPTION_RUNNING = (PENDING, ACTIVE, PAUSED)

# Statuses that pay back undelivered units: the remains' share, or everything left.
REFUNDS_REMAINS = (PARTIAL, EXPIRED)
REFUNDS_ALL = (CANCELED,)


def canonical(value: str, allowed: tuple[str, ...]) -> str | None:
    """``"in progress"`` → ``"In progress"``; None for anything not in ``allowed``."""
    folded = " ".join(value.replace("_", " ").split()).casefold()
    for status in allowed:
        if status.casefold() == folded:
            return status
    return None
