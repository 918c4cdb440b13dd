"""What affiliate movements say in the panel's ledger (codes, see ``opensmm.events``)."""

from __future__ import annotations

from opensmm.events import event
from opensmm.i18n import N_

AFFILIATE_TRANSFER = event("affiliate.transfer", N_("Moved from your affiliate balance"))
