"""Where an order's (or refill's) send to its upstream stands, and where a customer's cancel
of an order already upstream stands: the fulfillment vocabulary, in one place.

Pure constants (no imports), so that the order and refill services can use them without
importing the worker.
"""

from __future__ import annotations

# An order's or refill's ``send_state``. None: a manual order, nothing to send.
NEW = "new"  # to be sent
SENDING = "sending"  # a worker is calling the upstream right now (or died doing so)
SENT = "sent"  # the upstream has it: upstream_id is set
HELD = "held"  # a person must look: held_reason says why
# In doubt at an upstream that honours idempotency keys: to be sent again with the same key,
# which answers the order if it exists there (opensmm.fulfillment.outbox).
RESEND = "resend"
SEND_STATES = (NEW, SENDING, SENT, HELD, RESEND)
# The upstream has it, or may have it: only the upstream can cancel it now.
MAYBE_UPSTREAM = (SENDING, SENT, HELD, RESEND)

# An order's ``cancel_state``: a customer's cancel of an order that is already upstream.
CANCEL_REQUESTED = "requested"
CANCEL_SENT = "sent"
CANCEL_REFUSED = "refused"
CANCEL_STATES = (CANCEL_REQUESTED, CANCEL_SENT, CANCEL_REFUSED)
