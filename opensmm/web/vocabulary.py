"""Words the pages translate from data (``{{ _(order.status) }}``): statuses, ledger kinds,
fulfillment modes, account states, service types. Babel cannot see a msgid inside a
variable, so each word is marked here; ``tests/web/test_i18n.py`` checks that every value
of those vocabularies is listed."""

from __future__ import annotations

from opensmm.i18n import N_

WORDS = (
    # order, subscription and refill statuses
    N_("Pending"),
    N_("In progress"),
    N_("Processing"),
    N_("Completed"),
    N_("Partial"),
    N_("Canceled"),
    N_("Active"),
    N_("Paused"),
    N_("Expired"),
    N_("Rejected"),
    N_("Error"),
    # ledger entry kinds
    N_("deposit"),
    N_("charge"),
    N_("refund"),
    N_("payment"),
    # payment states (opensmm.payments.models.STATES)
    N_("pending"),
    N_("paid"),
    N_("partially_paid"),
    N_("expired"),
    N_("failed"),
    N_("refunded"),
    N_("disputed"),
    # webhook deliveries (opensmm.webhooks.models.STATES)
    N_("delivered"),
    # who told us about a payment (staff payment page)
    N_("callback"),
    N_("poll"),
    N_("return"),
    N_("staff"),
    N_("cli"),
    N_("api"),
    N_("affiliate"),
    # fulfillment modes
    N_("manual"),
    N_("provider"),
    N_("simulator"),
    # account states
    N_("active"),
    N_("suspended"),
    # what a held item or an alert is about (staff dashboard)
    N_("order"),
    N_("refill"),
    # why an amount typed in a form is refused (opensmm.money.MoneyError)
    N_("not an amount"),
    N_("amount too large"),
    N_("at most 5 decimal places"),
    # service types (opensmm.catalog.types: the API's identifiers, spec §3), as customers
    # and staff read them on the pages; the API and the API page keep the identifiers
    N_("Default"),
    N_("Package"),
    N_("Custom Comments"),
    N_("Custom Comments Package"),
    N_("Mentions"),
    N_("Mentions with Hashtags"),
    N_("Mentions Custom List"),
    N_("Mentions Hashtag"),
    N_("Mentions User Followers"),
    N_("Mentions Media Likers"),
    N_("Comment Likes"),
    N_("Comment Replies"),
    N_("Poll"),
    N_("Invites from Groups"),
    N_("Subscriptions"),
)
