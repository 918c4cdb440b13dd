"""What a payment's ledger entries say (codes, see ``opensmm.events``)."""

from __future__ import annotations

from opensmm.events import event
from opensmm.i18n import N_

PAYMENT_CREDIT = event("payment.credit", N_("Payment #{payment} via {method}"))
PAYMENT_FEE = event("payment.fee", N_("Payment #{payment}: fee of {method}"))
PAYMENT_BONUS = event("payment.bonus", N_("Payment #{payment}: deposit bonus"))
PAYMENT_REFUNDED = event("payment.refunded", N_("Payment #{payment}: refunded by {method}"))
PAYMENT_DISPUTED = event("payment.disputed", N_("Payment #{payment}: disputed at {method}"))
PAYMENT_COUPON = event("payment.coupon", N_("Payment #{payment}: coupon {coupon}"))
