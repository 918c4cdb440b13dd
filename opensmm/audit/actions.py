"""What each audit action code means, in English, marked for translation.

A row stores its code and parameters; the staff audit page shows ``describe(entry)`` through
the translator. A code without a description here, or a row whose parameters do not fill its
description (rows written before the codes, migration 0006), shows its parameters as they are.
"""

from __future__ import annotations

import string
from typing import Any

from opensmm.audit.models import DOOR_API, DOOR_CLI, DOOR_WEB
from opensmm.i18n import N_

# A code's descriptions, the most detailed first: a row shows the first one its parameters
# fill ("service.edit" names the old and new rate only when the rate changed).
# How each door reads on the audit page.
DOOR_LABELS = {DOOR_WEB: N_("Back office"), DOOR_CLI: N_("Command line"), DOOR_API: N_("API")}

DESCRIPTIONS: dict[str, str | tuple[str, ...]] = {
    "funds.adjust": N_("Adjusted the balance of {user} by {amount}: {memo}"),
    "user.create": N_("Created the user {user}"),
    "user.create_staff": N_("Created the staff user {user}"),
    "user.suspend": N_("Suspended {user}"),
    "user.activate": N_("Activated {user}"),
    "user.reset_link": N_("Sent a password reset link to {user}"),
    "user.set_password": N_("Set the password of {user}"),
    "mail.retry": N_("Retried mail {mail} to {to}"),
    "telegram.retry": N_("Retried Telegram message {message}"),
    "user.discount": N_("Changed the discount of {user} from {before}% to {after}%"),
    "key.create": N_("Created API key {key} for {user}"),
    "key.revoke": N_("Revoked API key {key} of {user}"),
    "key.allow_ips": N_("Set the addresses allowed for API key {key} to: {ips}"),
    "key.webhook": N_("Set the status webhook of API key {key} to {url}"),
    "service.create": N_("Created the service {service}"),
    "service.edit": (
        N_("Edited the service {service}: rate {before} → {after}"),
        N_("Edited the service {service}"),
    ),
    "service.enable": N_("Enabled the service {service}"),
    "service.disable": N_("Disabled the service {service}"),
    "service.move_up": N_("Moved the service {service} up"),
    "service.auto_refill": N_(
        "Turned auto-refill of the service {service} on, period in days: {days}"
    ),
    "service.auto_refill_off": N_("Turned auto-refill of the service {service} off"),
    "service.move_down": N_("Moved the service {service} down"),
    "service.route_add": N_(
        "Added route {position} to service {service}: provider {provider}, its service {upstream}"
    ),
    "service.route_remove": N_(
        "Removed the route of service {service} through provider {provider}, its service "
        "{upstream}"
    ),
    "service.route_move": N_(
        "Moved the route of service {service} through provider {provider}, its service "
        "{upstream}, to position {position}"
    ),
    "category.create": N_("Created the category {category}"),
    "category.rename": N_("Renamed the category {before} to {after}"),
    "category.move_up": N_("Moved the category {category} up"),
    "category.move_down": N_("Moved the category {category} down"),
    "category.platform": N_("Set the platform of the category {category}: {before} → {after}"),
    "order.update": N_(
        "Set order {order}: status {status}, remains {remains}, start count {start_count}; "
        "refunded {refunded}"
    ),
    "order.cancel": N_("Canceled order {order}: {refunded} refunded"),
    "order.resend": N_("Order {order} in doubt: sent again"),
    "order.resolve": N_("Order {order} in doubt: exists upstream as {upstream_id}"),
    "refill.update": N_("Set refill {refill} to {status}"),
    "subscription.post": N_("Recorded post {number} of subscription {order}: {link}"),
    "refill.resend": N_("Refill {refill} in doubt: sent again"),
    "refill.resolve": N_("Refill {refill} in doubt: exists upstream as {upstream_id}"),
    "provider.add": N_("Added the provider {provider} ({url})"),
    "provider.balance": N_("Checked the balance of {provider}: {amount} {currency}"),
    "provider.import": N_(
        "Imported from {provider}: {created} created, {skipped} skipped, markup {markup}%"
    ),
    "provider.sync": N_(
        "Synced {provider}: {repriced} repriced, {changed} changed, {disabled} disabled"
    ),
    "settings.set": N_("Changed the setting {name} from {before} to {after}"),
    "currency.set": N_("Set the exchange rate of {code} from {before} to {after}"),
    "currency.remove": N_("Removed the display currency {code}"),
    "currency.fetch": N_("Fetched exchange rates from {url}: {changes}"),
    "content.save": N_(
        "Saved the page {slug} in {language}: {characters} characters, version {version}"
    ),
    "payment_method.create": N_("Added the payment method {method} ({gateway})"),
    "payment_method.edit": N_(
        "Edited the payment method {method}: settings {settings}; minimum {min}, fee {fee}%, "
        "bonus {bonus}%"
    ),
    "payment_method.enable": N_("Enabled the payment method {method}"),
    "payment_method.disable": N_("Disabled the payment method {method}"),
    "payment.approve": N_("Approved payment #{payment} of {user}: {amount} received"),
    "payment.reject": N_("Rejected payment #{payment} of {user}: {reason}"),
    "payment.reviewed": N_("Marked payment #{payment} as reviewed: {note}"),
    "user.reset_2fa": N_("Reset the two-factor log-in of {user}"),
    "2fa.enable": N_("Turned on two-factor log-in for {user}"),
    "2fa.disable": N_("Turned off two-factor log-in for {user}"),
    "2fa.recovery_codes": N_("Made new recovery codes for {user}"),
    "ticket.reply": N_("Replied to ticket {ticket}"),
    "ticket.assign": N_("Assigned ticket {ticket} to {assignee}"),
    "ticket.unassign": N_("Unassigned ticket {ticket}"),
    "ticket.close": N_("Closed ticket {ticket}"),
    "ticket.reopen": N_("Reopened ticket {ticket}"),
    "ticket.refill": N_("Ticket {ticket}: refill {refill} of order {order}"),
    "ticket.refill_refused": N_("Ticket {ticket}: refill of order {order} refused"),
    "ticket.cancel": N_("Ticket {ticket}: canceled order {order}"),
    "ticket.cancel_refused": N_("Ticket {ticket}: cancel of order {order} refused"),
    "canned.create": N_("Added the canned reply {title}"),
    "canned.delete": N_("Deleted the canned reply {title}"),
    "news.post": N_("Posted the announcement {title}"),
    "news.delete": N_("Deleted the announcement {title}"),
    "coupon.create": N_(
        "Created the coupon {code}: {value}, uses {max_uses}, per customer {per_customer}, "
        "expires {expires}, minimum deposit {min_deposit}"
    ),
    "coupon.disable": N_("Disabled the coupon {code}"),
    "admin_token.create": N_("Created the admin API token {name} ({scope})"),
    "admin_token.revoke": N_("Revoked the admin API token {name}"),
    "affiliate.percent": N_("Changed the affiliate percent of {user} from {before} to {after}"),
}

# Rows from before migration 0006: the English sentence they were stored with.
LEGACY = N_("{details}")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def describe(action: str, params: dict[str, Any] | None) -> tuple[str, dict[str, str]]:
    """The English template and the values to fill it with, for ``ctx.t(template, **values)``."""
    values = {str(k): str(v) for k, v in (params or {}).items()}
    described = DESCRIPTIONS.get(action, ())
    for template in (described,) if isinstance(described, str) else described:
        if _fields(template) <= values.keys():
            return template, values
    if set(values) == {"details"}:
        return LEGACY, values
    shown = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
    return LEGACY, {"details": f"{action} {shown}".strip()}
