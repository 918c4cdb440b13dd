"""Refill statuses, spelled as the API v2 spells them (spec §4)."""

from __future__ import annotations

PENDING = "Pending"
IN_PROGRESS = "In progress"
COMPLETED = "Completed"
REJECTED = "Rejected"
ERROR = "Error"
REFILL_STATUSES = (PENDING, IN_PROGRESS, COMPLETED, REJECTED, ERROR)
# A refill still being worked: the order may have no other.
OPEN = (PENDING, IN_PROGRESS)
