"""What a ledger entry says, as a code plus parameters (see ``opensmm.events``).

A memo typed by staff stays in ``LedgerEntry.memo`` and is shown as it was typed; the words
around it ("(by staff boss)") are translated.
"""

from __future__ import annotations

from opensmm.events import event
from opensmm.i18n import N_

ORDER_CHARGE = event("ledger.order_charge", N_("Order {order}: {service}"))
ORDER_REFUND_PARTIAL = event("ledger.order_refund_partial", N_("Order {order}: partial refund"))
ORDER_REFUND_CANCEL = event("ledger.order_refund_cancel", N_("Order {order}: cancel refund"))
# A refund for a reason other than those above (none today): the reason as it was given.
ORDER_REFUND = event("ledger.order_refund", N_("Order {order}: {reason} refund"))
FUNDS_ADDED = event("ledger.funds_added", N_("Funds added (by {actor})"))
FUNDS_REMOVED = event("ledger.funds_removed", N_("Funds removed (by {actor})"))
# Staff's own words: ``memo`` is the entry's memo column, as typed.
FUNDS_WITH_MEMO = event("ledger.funds_memo", N_("{memo} (by {actor})"))

REFUNDS = {"partial": ORDER_REFUND_PARTIAL, "cancel": ORDER_REFUND_CANCEL}
