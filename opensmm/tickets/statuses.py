"""A ticket's statuses and subjects (their English names are catalog messages)."""

from __future__ import annotations

from opensmm.i18n import N_

OPEN = "open"
ANSWERED = "answered"
CUSTOMER_REPLY = "customer-reply"
CLOSED = "closed"
STATUSES = (OPEN, ANSWERED, CUSTOMER_REPLY, CLOSED)

STATUS_LABELS = {
    OPEN: N_("Open"),
    ANSWERED: N_("Answered"),
    CUSTOMER_REPLY: N_("Customer reply"),
    CLOSED: N_("Closed"),
}

ORDER = "order"
PAYMENT = "payment"
REFILL = "refill"
CANCEL = "cancel"
API = "api"
OTHER = "other"
SUBJECTS = (ORDER, PAYMENT, REFILL, CANCEL, API, OTHER)
# Subjects about orders: their order ids are required and checked.
WITH_ORDERS = (ORDER, REFILL, CANCEL)
# Subjects on which staff act on the named orders with one button.
ACTIONABLE = (REFILL, CANCEL)

SUBJECT_LABELS = {
    ORDER: N_("Order"),
    PAYMENT: N_("Payment"),
    REFILL: N_("Refill"),
    CANCEL: N_("Cancel"),
    API: N_("API"),
    OTHER: N_("Other"),
}
